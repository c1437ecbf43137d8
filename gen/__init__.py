"""Video generation: video jobs (``jobs``), the fair job queue (``queue``)
and the sweep that queues again the jobs Redis lost (``lost_jobs``),
cancel flags (``cancel``), each job's event and preview streams (``events``,
``previews``, drawn by ``preview_render``), workers' heartbeats
(``heartbeat``), the worker (``worker``), the pipelines (``pipelines``) and
what turns their output into files (``encode``, ``audio``, ``spritesheet``;
reference images in ``reference``), and the moderation every finished
clip passes before it completes (``output_checks``). The media store it
writes to is ``core.media_store``.

May import core and policy; never server.
"""
