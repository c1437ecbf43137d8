"""The feed's per-process live layer: what an api process (or an opening
builder) keeps in memory to serve the feed without reading a database per
pick, and the code that serves pages from it. It needs no web framework;
the web layer (``server``) and the ``fabula feed-builder`` command use it.

- ``runtime``: ``FeedRuntime``, the parts below and the Redis subscription
  that keeps them current (counts, post changes, graph changes); its
  lifecycle and the process's one instance (``ready``);
- ``viewer_cache``: the graph around each viewer (follows, blocks, friends
  of friends), dropped when an edge changes;
- ``author_cache``: authors' public profiles, read again in the background;
- ``background``: the caches' background reads;
- ``counts_hub``: live counters, handed to the pool and to the sessions
  watching a post;
- ``visibility``: may this viewer act on this post now, from memory;
- ``ranker``: the one place a for-you source is built on the runtime;
- ``pages``: a for-you page (from the opening or ranked here), one path for
  HTTP and the WebSocket;
- ``opening_builder``: users' next for-you pages ranked ahead
  (``fabula feed-builder``).

May import core, accounts, policy and the rest of feed."""
