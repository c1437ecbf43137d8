"""The liveness and identity pipeline: decode a recording, track one face
and its head pose, check the spoken digits and the lips that speak them, and
describe the likeness (face embedding, reference frames, voice sample).

Everything here is synchronous, CPU-bound and free of database I/O, so the
caller runs it off the event loop (a process pool). Models load once per
process.
"""
