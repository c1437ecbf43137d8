"""Shared infrastructure: settings, Mongo and Redis connections, ids, clock,
errors, logging, what a JSON document that does not decode says (``json_errors``), the embedded dev/test services and the watcher that stops
a child whose parent died (``orphan_guard``), the Structs that cross
process boundaries, change broadcasts and their receiving subscription
(``broadcast``, ``subscription``), rate limits (``rate_limit``), the api's
collector clock (``gc_clock``) and heap trim (``heap_trim``), the media store (``media_store``), whether FFmpeg read a file as a still picture (``media_kind``), the
sentence-embedding model (``minilm``, served without torch, and
``minilm_build``, which makes its ONNX files), free speech transcription
(``transcribe``), the nudity detector
(``nudity``), package data files
(``package_files``) and the differences between MongoDB and nx-27017
(``mongo_compat``). Imports only the standard library and third-party code."""
