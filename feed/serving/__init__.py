"""How a feed reaches a viewer: feed sessions (``sessions``: what a session
served, its taste, in Redis), their two sources (``for_you``: the ranked
feed; ``following``: the timeline), the stream that drives a session
(``stream``: the window ahead, events, resume), the seen sets and the
process's memory of them (``seen``, ``seen_memory``), the process's cap on
rebuilds that can wait (``rebuild_slots``), and openings (a user's next
for-you pages ranked ahead, ``openings``)."""
