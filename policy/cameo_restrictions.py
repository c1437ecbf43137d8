"""The restrictions a cameo owner can set, and the words that breach each.

An owner picks restrictions from this list by id (free text cannot be
checked; free-text wishes go into the cameo's preferences, which are added
to the prompt instead). Each is matched on whole words of the prompt after
``policy.prompt.normalise`` (lower case, accents folded, digit-for-letter
swaps undone), with the prompt's @mentions taken out first.

Like ``policy.prompt_rules`` this is a small, explicit first line: it catches
the plain words for a topic, not paraphrases, and it can refuse an innocent
prompt that uses one of the words in another sense ("a kiss of sunlight").
A learned classifier replaces the word lists in a later issue; the ids and
their meaning stay.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Restriction:
    id: str
    label: str  # what the owner picked, e.g. "never in political content"
    topic: str  # for a refusal: "... does not allow their cameo in <topic>"
    pattern: re.Pattern[str]


def _words(*words: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(words) + r")\b")


RESTRICTIONS: tuple[Restriction, ...] = (
    Restriction(
        "political",
        "never in political content",
        "political content",
        _words(
            r"politic\w*", r"election\w*", "elect", "vote", "votes", "voting", r"voter\w*", r"ballot\w*", r"campaign\w*",
            r"candidate\w*", r"president\w*", r"senat\w*", r"congress\w*", r"parliament\w*", r"minister\w*",
            r"governor\w*", r"mayor\w*", r"democrat\w*", r"republican\w*", r"socialis\w*", r"communis\w*", r"fascis\w*",
            r"protest\w*", "rally", "rallies", r"referend\w*", "propaganda", "government", r"impeach\w*",
            "white house", "political party", r"partisan\w*",
        ),
    ),
    Restriction(
        "swearing",
        "no swearing",
        "content with swearing",
        _words(
            r"fuck\w*", r"motherf\w*", r"shit\w*", r"bitch\w*", r"bastard\w*", r"asshole\w*", r"dickhead\w*", r"cunt\w*",
            r"damn\w*", "crap", "crappy", r"piss\w*", "wtf", "bollocks", "bloody hell", r"swear\w*", r"cuss\w*",
            r"profan\w*", r"curse words?", r"cursing",
        ),
    ),
    Restriction(
        "violence",
        "never in violent content",
        "violent content",
        _words(
            r"fight\w*", r"punch\w*", r"gun\w*", r"shoot\w*", r"stab\w*", r"kill\w*", r"murder\w*", r"blood\w*",
            r"weapon\w*", "knife", "knives", r"sword\w*", "war", "wars", r"battle\w*", r"explo(?:de|des|ded|ding|sion|sions)",
            r"bomb\w*", r"attack\w*", r"assault\w*", "beat up", "beats up", "beaten up", r"brawl\w*", r"strangl\w*",
        ),
    ),
    Restriction(
        "alcohol_drugs",
        "never with alcohol, drugs or smoking",
        "content with alcohol, drugs or smoking",
        _words(
            r"alcohol\w*", r"beers?", r"wines?", "vodka", r"whiske?y", "tequila", "rum", r"cocktails?", r"drunk\w*",
            "booze", r"drugs?", "weed", "marijuana", "cannabis", "cocaine", "heroin", "meth", r"smok(?:e|es|ed|ing)",
            r"cigarettes?", r"cigars?", r"vap(?:e|es|ing)", "stoned",
        ),
    ),
    Restriction(
        "romance",
        "never in romantic or intimate scenes",
        "romantic or intimate scenes",
        _words(
            r"kiss\w*", r"romanc\w*", "romantic", "dating", "date night", "make out", "making out", r"flirt\w*",
            r"cuddl\w*", r"lovers?", "intimate", "honeymoon", r"boyfriends?", r"girlfriends?", r"seduc\w*",
        ),
    ),
    Restriction(
        "commercial",
        "never in ads or endorsements",
        "ads or endorsements",
        _words(
            r"advert\w*", "ad", "ads", r"commercials?", r"endors\w*", r"sponsor\w*", r"promo\w*", "buy now",
            "brand deal", "product placement", r"infomercial\w*", r"testimonials?",
        ),
    ),
    Restriction(
        "horror",
        "never in horror or gore",
        "horror or gore",
        _words(
            "horror", r"zombies?", r"monsters?", r"demons?", r"ghosts?", "haunted", "creepy", r"corpses?", r"vomit\w*",
            "gore", "gory", r"possess(?:ed|ion)",
        ),
    ),
)

BY_ID: dict[str, Restriction] = {r.id: r for r in RESTRICTIONS}
IDS: tuple[str, ...] = tuple(BY_ID)
