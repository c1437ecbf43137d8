"""Data that prompt moderation reads: the labelled prompts, the classifier's
trained weights and the public-figure names (each file says how it is made)."""
