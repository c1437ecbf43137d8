"""The ``fabula`` console script: ``dev`` (everything on embedded defaults),
``api``, ``worker`` and ``services``. Imports each process's package lazily,
so ``fabula worker`` never loads the server."""
