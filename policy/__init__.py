"""Decisions, never I/O: prompt moderation now; likeness consent, quotas and
provenance rules as they arrive. Each decision is a pure function that takes
data and returns a ``Decision``; its caller fetches the data and acts on it.
May import core only."""
