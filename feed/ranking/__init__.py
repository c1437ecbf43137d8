"""How for-you posts are found and ordered: the per-process candidate pool
(``pool``: the newest posts as numpy columns), candidate sources
(``candidates``), features and scores (``features``, ``scoring``,
``trending``), sequencing rules (``diversity``: author cap, exploration,
MMR), the session and long-term taste (``interest``) and the text embedding
of posts (``embeddings``). Pure over the pool, except the taste's Redis
reads and writes."""
