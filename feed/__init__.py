"""Posts and the feeds made of them, by idea:

- ``feed.social``: the social objects and their counters (posts, likes,
  comments, shares, remixes, views, notifications), who may see a post, and
  authors as posts show them;
- ``feed.publishing``: a post's life (publish, edit, delete) with what
  follows each;
- ``feed.viewer``: who is looking (the graph around a viewer);
- ``feed.ranking``: how for-you posts are found and ordered (the candidate
  pool, candidates, features, scoring, diversity, taste, embeddings);
- ``feed.serving``: how a feed reaches a viewer (sessions, the for-you and
  following sources, the stream, seen sets, openings);
- ``feed.live``: the per-process live layer (the runtime and its caches,
  the counts hub, for-you pages, the opening builder).

The subpackages import downwards only: social, ranking, serving, live
(``viewer`` sits beside social; ``publishing`` also uses ranking's
embedding model). May import core, accounts and policy."""
