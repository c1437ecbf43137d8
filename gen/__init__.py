"""Video generation: the job queue, the worker, pipelines, step previews,
encoding and the media store.

May import core and policy; never server.
"""
