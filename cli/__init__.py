"""The ``fabula`` console script: ``dev`` (everything on embedded defaults),
``api``, ``worker`` and ``feed-builder``. Imports each process's package
lazily, so ``fabula worker`` never loads the server."""
