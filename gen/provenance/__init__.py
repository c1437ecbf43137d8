"""Provenance: what every output carries to say where it came from, and the
means to read it back.

The marks (this package's part of it):

* ``visible``: a small label (service name and the creator's @handle) that
  moves from corner to corner, burnt into every frame;
* ``invisible`` (with ``mark_layout`` and ``key_code``): a 48-bit key hidden
  in the frames' brightness, repeated in every frame, read back by
  ``read_key`` after re-encoding, scaling, cropping, speed changes, blur and
  JPEG; ``registry`` maps keys to video ids (the ``provenance_keys``
  collection, kept after a video is deleted so copies stay traceable);
* ``manifest`` and ``keys``: a signed C2PA manifest in the MP4 and the
  thumbnail (AI-made, model preset, remix parent, creator, cameo consent),
  the signing chain it needs, and ``read_manifest``;
* ``outputs``: what the worker does to a finished clip (mark the frames,
  sign the files);
* ``attacks``: the transformations the marks are measured against (bench,
  tests).

The public check (the perceptual-hash index and the check that combines all
of them) lives beside these, in ``phash*`` and ``index*`` modules.

May import core and policy; never server.
"""
