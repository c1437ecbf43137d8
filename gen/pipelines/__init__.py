"""Text-to-video pipelines.

Owns the model presets (``registry``), loading a diffusers pipeline once per
process and running it for a job (``base.VideoGenerator``), and the tiny
random-weight LTX-Video preset used on CPU and in tests (``tiny``). Weights are
only ever read from local disk or the local Hugging Face cache.
"""
