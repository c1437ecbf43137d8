"""The categories prompt moderation refuses, each with the sentence a refusal
gives. Every layer (rules, the public-figure names, the learned classifier)
refuses under one of these names."""

from __future__ import annotations

# in order of severity: where two layers or two classes agree on a refusal, the first one named here is reported
CATEGORIES: tuple[str, ...] = (
    "minors", "sexual", "self_harm", "extremism", "violence", "hate", "illegal", "real_person",
)

REASONS: dict[str, str] = {
    "minors": "Content sexualising or endangering minors is never allowed.",
    "sexual": "Sexual or explicit content is not allowed.",
    "self_harm": "Content that depicts or encourages self-harm or suicide is not allowed.",
    "extremism": "Content that promotes violent extremism or terrorist groups is not allowed.",
    "violence": "Graphic violence and gore are not allowed.",
    "hate": "Hateful content targeting people for who they are is not allowed.",
    "illegal": "Instructions for weapons, drugs or other crimes are not allowed.",
    "real_person": "Real people and public figures can only appear through a cameo they let you use.",
}
