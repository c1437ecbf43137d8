"""Posts and the feeds made of them: publishing, the following timeline now;
ranking, candidates, features, counters and feed sessions as they arrive.
May import core and policy; the follow graph reaches it as data from its caller."""
