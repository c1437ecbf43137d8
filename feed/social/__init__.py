"""The social objects and their counters: posts (the ``posts`` collection),
edits and deletes told to every process (``post_changes``), likes, comments,
shares, remix chains, views and the per-user view history, notifications,
the exact counters cached in Redis (``counters``, batched views in
``view_batches``), who may see a post (``visibility``) and authors as posts
show them (``authors``). Each module owns its collection and keys."""
