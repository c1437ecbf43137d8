"""Posts and the feeds made of them, by idea:

- ``feed.social``: the social objects and their counters (posts, likes,
  comments, shares, remixes, views, notifications);
- ``feed.ranking``: how for-you posts are found and ordered (the candidate
  pool, candidates, features, scoring, diversity, taste, embeddings);
- ``feed.serving``: how a feed reaches a viewer (sessions, the for-you and
  following sources, the stream, seen sets, openings).

May import core and policy; the follow graph reaches it as data from its
caller."""
