"""Posts and the feeds made of them: publishing, likes, comments, shares,
remixes, views, notifications and counters; the following timeline; the
for-you ranking (candidate pool, features, scoring, diversity, taste), feed
sessions and the stream that drives them, and openings (a user's next
for-you pages ranked ahead). May import core and policy; the follow graph
reaches it as data from its caller."""
