"""Decisions, never I/O: prompt moderation (``prompt`` and its rules), who
may see a post (``visibility``), the generation quota (``quota``), cameo
mentions and likeness consent (``mentions``, ``likeness``,
``cameo_restrictions``), whether a picture may be used (``images``) and
which faces in it may be there (``face_likeness``). Each decision is a pure function that takes
data and returns a ``Decision``; its caller fetches the data and acts on it.
May import core only."""
