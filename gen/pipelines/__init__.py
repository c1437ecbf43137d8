"""Video (and sound) generation pipelines.

Owns the model presets: what each one makes (``presets``: sizes, lengths,
image conditioning, sound; free of model imports, so the api reads it) and
how each is found and loaded (``registry``: LTX-2, LTX-Video, Wan 2.1/2.2 and
the tiny random-weight builds of the same classes), once per process with its
speed options applied (``options``); running a pipeline for a job
(``base.VideoGenerator``: text- or image-to-video, with a sound track), what
differs between model families (``families``), sound for models that make
none (``sound``) and the tiny builds (``tiny``). Weights are only ever read
from local disk or the local Hugging Face cache.
"""
