"""Cameos: verified, consented likenesses.

Owns the cameo documents and their media (reference frames, voice sample,
face embedding), liveness challenges, the grant graph (requests, approvals,
revocations), appearances (every video that uses a cameo) and the liveness
and identity pipeline in ``cameos.liveness``, and the checks of faces and
nudity in uploaded pictures, recordings and finished videos
(``face_search``, ``reference_faces``, ``output_likeness``,
``capture_nudity``). Decisions (may user U use
cameo C for this prompt) are pure functions in ``policy``; this package does
the I/O around them.
"""
