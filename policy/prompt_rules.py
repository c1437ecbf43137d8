"""The prompt rules: the unambiguous cases, one entry per refused category,
matched on whole words of each reading of the prompt that
``policy.normalise.rule_forms`` gives.

Deliberately explicit: a word or phrase is here only when it is refused in
(nearly) every video prompt that uses it. Everything that depends on the
sense of the words ("shoot a film", "kill the lights", "chicken breast")
is left to the learned classifier (``policy.moderation_model``). The first
rule that matches wins, so the order is the order of severity."""

from __future__ import annotations

import re
from dataclasses import dataclass

from policy.categories import REASONS
from policy.normalise import NUDE_COLOUR_NOUNS


@dataclass(frozen=True)
class Rule:
    category: str
    reason: str
    pattern: re.Pattern[str]


def _words(*words: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(words) + r")\b")


def _alt(*words: str) -> str:
    return r"\b(?:" + "|".join(words) + r")\b"


def _near(left: str, right: str, gap: int) -> re.Pattern[str]:
    """``left`` then ``right`` with at most ``gap`` characters between them, in either order."""
    return re.compile(rf"{left}.{{0,{gap}}}{right}|{right}.{{0,{gap}}}{left}")


_CHILD = _alt(
    "child", "children", "kid", "kids", "minor", "minors", "underage", "underaged", "teen", "teens", "preteens?",
    "pre-teens?", "toddlers?", "schoolgirls?", "schoolboys?", "loli", "infants?", "little girls?", "little boys?",
    "young girls?", "young boys?", r"(?:[1-9]|1[0-7])[- ]?(?:year|yr)s?[- ]?old",
    r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen)[- ](?:year|yr)s?[- ]old", "middle schoolers?", "elementary school",
    "tweens?", r"(?:first|second|third|fourth|fifth|sixth|seventh|eighth) graders?", "child brides?", "childlike",
)
_CHILD_SEXUAL = _alt(
    "nude", "naked", "sex", "sexual", "sexy", "erotic", "porn", "lingerie", r"undress\w*", "seductive",
    r"sexuali[sz]\w*", "provocative", "topless", "nudity", "strip tease", "striptease", r"strip(?:ping|ped)",
    "strip dance", "underwear", "panties", "ecchi", r"seduc\w*", "aroused", "clothes off", "changing room",
    "wedding night", "private collection",
)
_ABUSE_WORDS = _words(
    r"p(?:a)?edo(?:phile|philes|philia|philic)?", "jailbait", "lolicon", "shotacon", r"child porn\w*",
    r"child sexual abuse", "csam", "cp video",
)

_GROUP = (
    r"(?:jews|jewish people|muslims|blacks|black people|black men|gays|gay people|homosexuals|immigrants|mexicans|arabs|asians"
    r"|chinese people|trans people|transgender people|women|christians|hindus|sikhs|refugees|gypsies|roma|africans|indians"
    r"|disabled people|latinos|whites|white people)"
)
_COUNTRY = _alt(
    "the united states", "the us", "the usa", "america", "russia", "china", "france", "germany", "the uk",
    "the united kingdom", "britain", "india", "north korea", "ukraine", "israel", "iran", "turkey", "brazil",
    "canada", "japan", "italy", "spain", "mexico", "argentina", "hungary", "venezuela", "south africa",
)
_NATION = _alt(
    "us", "u s", "american", "russian", "chinese", "french", "british", "german", "indian", "israeli", "ukrainian",
    "north korean", "iranian", "turkish", "brazilian", "canadian", "japanese", "italian", "mexican",
)
_OFFICE = r"(?:president|prime minister|chancellor|supreme leader|vice president|first lady)"

# a refused word right after a negation ("no nudity", "without the gore") is the prompt saying what it does not want
_NOT = r"(?<!\bno )(?<!without )(?<!without the )(?<!without any )(?<!no realistic )(?<!no real )(?<!no visible )(?<!no graphic )(?<!no explicit )(?<!zero )"
# "nude" as a colour ("nude heels", "a nude lipstick") is not nudity
_NUDE = (
    _NOT + rf"nude(?![- ](?:{NUDE_COLOUR_NOUNS})\b)"
)
_BOMB = r"(?<!bath )(?<!smoke )(?<!seed )(?<!photo )(?<!glitter )bombs?"
_HOW = _alt("how to", "tutorial", "step by step", "step-by-step", "instructions?", "recipe for", "guide to", "teach(?:es|ing)? (?:me |you |us )?(?:how )?to")

RULES: tuple[Rule, ...] = (
    Rule(
        "minors",
        REASONS["minors"],
        re.compile(
            rf"{_CHILD}.{{0,60}}{_CHILD_SEXUAL}|{_CHILD_SEXUAL}.{{0,60}}{_CHILD}|{_ABUSE_WORDS.pattern}"
        ),
    ),
    Rule(
        "sexual",
        REASONS["sexual"],
        _words(
            r"porn\w*", _NUDE, "nudes", r"(?<!rear )naked(?! eye| mole| flame| truth| ape| cakes?)", _NOT + "nudity", r"rap(?:e|es|ed|ing|ist|ists)", "nsfw", r"(?<!same-)(?<!same )sex(?! education| ed\b| determination|[- ]positive)", r"(?<!not )(?<!non-)(?<!non )sexual(?! harassment| health| orientation| education)", "erotic", "erotica", "hentai",
            r"topless(?! jeeps?| cars?| convertibles?| buses| bus)", "genitals?", r"orgasm\w*", "striptease", "strip tease", "xxx", "blowjobs?", "handjobs?",
            r"masturbat\w*", "intercourse", "onlyfans", "lap ?dances?", r"(?<!wire )(?<!paint )(?<!varnish )strippers?", "bdsm", "dildos?", "threesome",
            "orgy", "orgies", "gangbang", "sex tape", "having sex", "boobs", "tits", "penis", "vagina", "camgirls?",
            "upskirt", "milf", "horny", "bare breasts?", "bare-breasted", "fully unclothed", "without any clothes",
            "nip slips?", "x-rated", "x rated", "adult (?:film|movie|video)s?", r"nudists?", r"grop(?:e|es|ed|ing)", r"voyeur\w*",
            "kama sutra", r"strip(?:s|ping|ped)? (?:down )?(?:to nothing|naked|nude)", "with nothing on", "nothing left on",
            r"(?:take|takes|taking|took|pull|pulls|pulling|rip|rips|ripping) off (?:all|every piece) of (?:her|his|their) clothes",
            r"hidden cam(?:era)? (?:\w+ ){0,2}(?:undressing|naked|showering|changing)",
        ),
    ),
    Rule(
        "self_harm",
        REASONS["self_harm"],
        _words(
            r"(?<!survived )(?<!died by )(?<!lost to )(?<!signs of )suicide(?! prevention| awareness| hotline| helpline| crisis line| squad| doors?| sprints?| drills?| loss| bereavement| rates?)", "suicidal",
            _NOT + r"(?<!survivor of )(?<!clean from )(?<!free from )(?<!recovery from )(?<!recovering from )(?<!help for )(?<!recognising )(?<!recognizing )(?<!healed )(?<!faded )self[- ]?harm\w*(?![- ]free| recovery)", r"self[- ]?injur\w*", r"self[- ]?mutilat\w*",
            r"kill(?:s|ing)? (?:myself|yourself|himself|herself|themselves|oneself)(?! laughing)",
            r"cut(?:s|ting)? (?:myself|yourself|herself|himself|themselves)",
            r"hang(?:s|ing)? (?:myself|yourself|himself|herself|themselves)",
            r"(?:slit|slits|slitting|cut|cuts|cutting) (?:my|your|her|his|their) wrists?",
            r"(?:end|ends|ending|take|takes|taking|took) (?:my|your|her|his|their) (?:own )?life",
            "pro[- ]?ana", r"thinspo\w*", "kys", r"(?:end|ends|ending) it all", r"overdos\w* on purpose",
            r"(?:swallow\w*|took|takes|taking) (?:a |the |all )?(?:whole |entire )?(?:bottle|handful|all) (?:of )?(?:(?:her|his|my|the|their) )?(?:pills|sleeping pills)",
            r"(?:tie|ties|tying) a noose", r"(?:cut|cuts|cutting|slice|slices|slicing|carv\w*) (?:her|his|my|their) (?:arms?|wrists?|thighs?|skin|forearms?)",
            r"(?:burn|burns|burning|burned|starv\w*|cutting|hurting|hurt|hurts|punish\w*) (?:herself|himself|myself|themselves) (?:on purpose|to feel|until)",
            r"(?:starve|starves|starving) (?:herself|himself|myself|themselves)",
            r"(?:make|makes|making) (?:herself|himself|myself|themselves) (?:vomit|throw up|purge)",
            r"(?<!hair )cutting tutorial", r"how deep to cut", r"(?:drink|drinks|drinking) bleach", "russian roulette", "blackout challenge",
            r"chok(?:e|es|ing) (?:herself|himself|myself|themselves)", r"fresh cuts on (?:a |her |his |my |their )?(?:wrists?|arms?|thighs?)",
            r"carv\w* (?:\w+ ){0,2}into (?:her|his|my|their) (?:own )?skin", r"(?:engine|exhaust) running in a closed garage",
            r"(?:step|steps|stepping|jump|jumps|jumping|walk|walks|walking|threw (?:himself|herself)) in front of (?:a |the )?(?:bus|train|truck|car|subway)",
            r"(?:man|woman|teen\w*|boy|girl|person|body) hanging from (?:a |the )?(?:tree|rope|beam|noose|ceiling)",
            r"purg(?:e|es|ing) after (?:meals|eating|dinner)", r"(?:encourag\w*|hide|hiding|promot\w*|glorif\w*) (?:an |your |her |his |their )?eating disorders?",
            r"(?:drown|drowns|drowning|drowned) (?:herself|himself|myself|themselves|yourself)",
            r"(?:fill|fills|filling|filled) (?:her|his|my|their) pockets with (?:stones|rocks)",
            r"(?:stones|rocks) in (?:her|his|my|their) pockets.{0,60}\b(?:sea|river|lake|ocean|water)",
            r"(?:car|garage|cabin) (?:filling|filled|fills|full of) (?:with )?(?:exhaust|fumes|carbon monoxide)", r"hose (?:from|on|to) the exhaust",
            r"(?:deciding|decides|decided) (?:whether )?to jump", r"last (?:day|hours?|night|morning) before (?:he|she|they|i) (?:jumps?|ends? it)",
            r"(?:deliberately|intentionally|purposely|calmly) (?:steps?|stepping|stepped|walks?|walking|walked) (?:out )?into (?:the )?(?:oncoming )?traffic",
            r"(?:step|steps|stepping|stepped) off (?:the |a )?(?:roof|ledge|bridge|edge of the roof)",
            r"bath ?tub with (?:a |his |her |their )?(?:service )?(?:pistol|gun|revolver|razor blades?|razor)",
        ),
    ),
    Rule(
        "extremism",
        REASONS["extremism"],
        re.compile(
            _near(
                _alt("isis", "daesh", "al[- ]?qaeda", "al[- ]?shabaab", "boko haram", "taliban", "hamas", "hezbollah",
                     "kkk", "ku klux klan", "neo[- ]?nazis?", "atomwaffen", "jihadis?t?s?", "white supremacists?"),
                _alt(r"recruit\w*", "propaganda", r"glorif\w*", "join", "joining", "manifesto", "heroes", "hero",
                     r"martyrdom", "praise", "praising", r"celebrat\w*"),
                40,
            ).pattern
            + "|"
            + _words("sieg heil", "1488", "fourteen words", "great replacement", "race war", "day of the rope",
                     "shooter manifesto", r"(?:mass|school) shooters? (?:as|are|is) (?:a )?(?:heroe?s?|saints?)",
                     r"accelerationis\w*", "islamic state", "turner diaries", "heroes of the reich", r"(?:bomb|bombing|attack|attacking) abortion clinics",
                     r"(?:glorif\w*|celebrat\w*|prais\w*|honou?r\w*|salute to) (?:the )?(?:nazis|nazi party|ss|waffen-ss|reich|hitler|third reich)",
                     r"hitler (?:as|was) (?:a |the )?(?:hero|right|good)",
                     r"(?:celebrat\w*|prais\w*|honou?r\w*|glorif\w*|tribute to|salute to) (?:\w+ ){0,3}(?:shooters?|bombers?|hijackers?|terrorists?|attackers?)",
                     r"carry out (?:\w+ )?attacks").pattern
        ),
    ),
    Rule(
        "violence",
        REASONS["violence"],
        _words(
            _NOT + r"gor(?:e|y)", r"behead\w*", r"decapitat\w*", r"dismember\w*", r"disembowel\w*", r"mutilat\w*", "massacre",
            r"(?<!victims of a )(?<!victims of the )mass shooting", r"torture(?! tests?\b)\w*",
            r"(?:open|opens|opened|opening) fire (?:on|at|into) (?:a |the )?(?:crowds?|people|shoppers|civilians|students|children|kids|worshippers|passers-by|protesters|commuters|pedestrians|families)",
            r"(?:picking|picks|pick) off (?:people|civilians|pedestrians|passers-by|commuters|shoppers|students)", r"eviscerat\w*", "entrails", "guts spilling", "flayed", "skinned alive",
            "burned alive", "burnt alive", "snuff film", _NOT + "severed heads?", _NOT + "severed limbs?", "blood spurting",
            "brains splattered", "execution video", "exploding heads?",
            r"(?:beat|beats|beaten|beating|stomp\w*|kick|kicks|kicked|kicking|stab\w*|club|clubbed|clubbing|hack|hacked|hacking"
            r"|bludgeon\w*|strangl\w*|choked|choking|hammered|burn|burns|burned|burnt|burning) (?:\w+ ){0,3}to death",
            r"(?<!anniversary of a )(?<!anniversary of the )(?:school|church|mall|concert|synagogue|mosque|nightclub|classroom) (?:shooting|massacre)s?(?! survivors?| anniversary| memorial| vigil)",
            r"shoot (?:up )?(?:my|the|a) (?:school|class|office|church)", r"blood (?:spray\w*|spurt\w*|gush\w*|splatter\w*)",
            "blood everywhere", r"(?:slit|slits|slitting|cut|cuts|cutting) (?:his|her|their|a man's|a woman's|my|your) throats?",
            r"throats? (?:slit|cut open)", r"goug\w* (?:\w+ )?out", r"eyes? (?:being )?gouged", r"skull (?:cracked|crushed|smashed|caved)",
            r"(?:bodies|body parts|limbs) (?:torn|ripped|blown) (?:apart|off)", r"body parts (?:everywhere|flying|raining)",
            r"(?:kick|kicks|kicking|tortur\w*|beat|beats|beating|drown|drowns|drowning|crush|crushes|crushing|stab|stabs|stabbing)"
            r" (?:a |the |his |her )?(?:puppy|puppies|kitten|kittens)", r"(?:shot|shoots|shooting) (?:\w+ ){0,2}(?:point blank|execution style|in the head)",
            r"firing squad execut\w*", r"(?:executing|executes|executed) (?:the )?(?:prisoners|hostages|civilians)",
            r"(?:guillotine|electric chair|public|gruesome) executions?", r"execution by (?:hanging|beheading|firing squad|stoning)",
            r"bayonet(?:ing|ed|s) (?:a |the |an )?(?:\w+ )?(?:man|woman|enemy|soldier|prisoner|child)",
            r"(?:chop|chops|chopping|hack|hacks|hacking|cut|cuts|cutting|saw|sawing) (?:up )?(?:a |the |his |her )?(?:dead )?(?:body|bodies|corpse)",
            r"(?:hack|hacks|hacking|hacked|rip|rips|ripping|ripped|tear|tears|tearing|torn|blown|blowing) (?:\w+ ){0,2}apart",
            r"blown up with (?:\w+ )?(?:people|children|kids|passengers|families) inside", r"with (?:the )?(?:people|children|families|villagers) (?:still )?inside",
            "buried alive", r"ram(?:s|ming|med)? (?:\w+ )?into (?:\w+ )?(?:pedestrians|a crowd|crowds|people|shoppers)",
            r"thrown against a wall", r"(?:shooting|shoots|shot|gunning down|guns down) (?:the )?(?:fleeing |unarmed |kneeling )?(?:refugees|civilians|children|kids|protesters|students)",
            r"(?:set|sets|setting) (?:a |the |an )?(?:\w+ )?(?:dog|cat|man|woman|person|child|boy|girl|puppy|kitten|horse) on fire",
            r"cut(?:s|ting)? off (?:a |the |his |her |their |an? )?(?:\w+ )?(?:head|heads|fingers|ears?|hands?|limbs)",
            r"chainsaw (?:cutting |slicing |going )?(?:through|into) (?:a |the )?(?:\w+ )?(?:man|woman|person|body|victim)",
            r"(?:dog|cat|puppy|kitten|horse|animal|man|woman|person|child|boy|girl)s? (?:being |is |was |gets |got )?(?:set on fire|set alight|doused and set alight)",
            r"(?:dog|cat|puppy|kitten)s? (?:being )?swung by (?:its|the|their) tails?",
        ),
    ),
    Rule(
        "hate",
        REASONS["hate"],
        re.compile(
            _words(
                "nazi propaganda", "ethnic cleansing", "genocide of", "white power", r"racial slur\w*", "heil hitler",
                r"nigg(?:er|ers|a|as)", r"kikes?", r"faggots?", "wetbacks?", "towelheads?", "ragheads?", "trann(?:y|ies)",
                "gooks?", "white genocide", "gas the jews", r"chinks", r"spics", r"sand ?niggers?", r"coons", r"dykes",
                r"(?:kill|exterminate|gas|deport|hang|burn) all (?:the )?" + _GROUP,
                r"death to (?:the |all )?" + _GROUP,
                r"(?:all |every )?" + _GROUP + r" (?:should|must|deserve to|need to) (?:die|be killed|be exterminated|be gassed|burn|hang|be wiped out)",
                _GROUP + r" (?:are|as) (?:all )?(?:animals|apes|monkeys|rats|pigs|vermin|terrorists|rapists|criminals|savages|subhuman|a disease|a virus|diseased)",
                r"cross burnings?", r"no (?:dogs,? )?(?:no )?blacks", r"hook[- ]?nosed", r"(?:in|into) the ovens",
                r"dirty (?:foreigners?|jews?|immigrants?|mexicans?|arabs?|muslims?)",
            ).pattern
            + "|"
            + _near(
                _alt("jews?", "muslims?", "blacks?", "black people", "gays?", "immigrants?", "mexicans?", "arabs?",
                     "asians?", "women", "trans people", "christians?", "refugees?", "gypsies", "roma"),
                _alt("vermin", "subhuman", "sub-human", "parasites", "cockroaches", "inferior race"),
                30,
            ).pattern
        ),
    ),
    Rule(
        "illegal",
        REASONS["illegal"],
        re.compile(
            _near(
                _HOW,
                r"\b(?:make|making|build|building|cook|cooking|synthesi[sz]e|synthesi[sz]ing|assemble|3d print|craft)\b"
                rf".{{0,25}}(?:{_BOMB}\b|\b(?:pipe bombs?|meth|methamphetamine|fentanyl|explosives?|napalm|ricin|sarin|"
                r"nerve gas|nerve agents?|molotov cocktails?|ghost guns?|silencers?|suppressors?|crack cocaine|heroin|"
                r"untraceable guns?|zip guns?)\b)",
                30,
            ).pattern
            + "|"
            + _words(
                r"cook(?:s|ing)? (?:meth|methamphetamine|crack|fentanyl)", "meth lab tutorial",
                r"(?:buy|buying|order|ordering) (?:cocaine|heroin|meth|fentanyl|guns?|weapons?) (?:online|on the dark ?web)",
                r"how to (?:hotwire|shoplift|launder money|counterfeit|steal a car|break into a (?:house|car)|pick a lock to break in)",
                r"(?<!spotting )(?<!spot )(?<!detecting )(?<!detect )counterfeit (?:money|bills|cash|banknotes)", r"3d[- ]?print(?:ed|ing)? (?:an? )?(?:guns?|firearms?|pistols?)",
                r"(?:convert|converting) (?:an? )?(?:ar-?15|rifle|pistol|glock) to full[- ]?auto",
                "credit card fraud tutorial", "card skimming tutorial", "human trafficking tutorial",
                r"which (?:household )?(?:chemicals|ingredients) to (?:mix|combine) (?:to|for) (?:make |making )?(?:a |an )?(?:bomb|explosives?|poison gas|toxic gas)",
                r"poach\w* (?:elephants|rhinos?|tigers|pangolins|ivory)\b.{0,30}\bhow to", r"how to poach (?:elephants|rhinos?|tigers|pangolins|ivory)",
                r"how to (?:make|build|cook|synthesi[sz]e|brew|extract|press|get|buy|grow and sell) (?:\w+ ){0,3}(?:lsd|dmt|mdma|ecstasy|ghb"
                r"|chloroform|thermite|grenades?|ieds?|detonators?|ammonium nitrate|fake ids?|fake passports?|counterfeit \w+|crack|oxy\w*|opium)",
                r"how to (?:poison|drug|kidnap|stalk|mug|blackmail|smuggle|traffic) (?:\w+ ){0,2}(?:someone|somebody|a person|people|him|her|them"
                r"|my \w+|your \w+|drugs|weapons|guns|kids|children|women|migrants)",
                r"how to (?:break into|rob|hack into) (?:a |an |the |my |your |someone's |\w+'s )?(?:\w+ )?(?:house|home|car|apartment|school"
                r"|building|safe|bank|store|atm|account|phone|wifi)",
                r"how to steal (?:a |an |the |someone's )?(?:cars?|bikes?|money|packages|credit cards?|identit\w+|catalytic converters?|from)",
                r"how to (?:get away with murder|dispose of a body|hide a body|launder|evade taxes|forge|counterfeit)",
                "ricin", r"untraceable poisons?", r"poisons? that (?:can't|cannot|can not|won't) be (?:traced|detected)",
                r"(?:fire|fires|crash|crashes|death|deaths|overdose) that looks? like an accident", r"how to (?:poach|traffic|smuggle)",
                r"dog ?fight(?:ing|s)? (?:training|ring|guide|tutorial)", r"(?:romance|phone|crypto|elder) scam (?:tutorial|guide|script)",
                r"(?:card )?skimmers? (?:tutorial|with parts|parts list)", r"sell(?:s|ing)? (?:cocaine|heroin|meth|drugs|fentanyl|pills|weed) to (?:kids|children|teens|teenagers|students|minors)",
                r"guns? (?:with )?(?:no|without) (?:paperwork|background checks?|serial numbers?)",
                r"(?:slip|slips|slipping|put|puts|putting|spike|spikes|spiking) (?:a |an |some )?(?:sedatives?|roofies|rohypnol|ghb|drugs?|pills?) (?:\w+ ){0,2}(?:drinks?)",
                r"(?:turn|turns|turning|convert|converts|converting) (?:\w+ ){0,3}into (?:a |an )?(?:bombs?|explosives?|working (?:firearm|gun)s?|real guns?)",
                r"(?:steal|stealing) (?:\w+ ){0,3}(?:without (?:a|the) key|catalytic converters?)",
            ).pattern
        ),
    ),
    Rule(
        "real_person",
        REASONS["real_person"],
        re.compile(
            rf"\b(?:the )?(?:current |sitting |former |ex )?{_OFFICE} of {_COUNTRY}"
            rf"|\b(?:the )?(?:current |sitting )?{_NATION} {_OFFICE}\b"
            r"|\bthe (?:current |sitting |reigning )(?:king|queen|pope|british monarch)\b"
            r"|\bthe pope\b|\bpope (?:francis|leo|benedict)\b|\bthe dalai lama\b"
        ),
    ),
)


def first_match(forms: list[str]) -> tuple[Rule, str] | None:
    """The first rule (in order) that matches any of ``forms``, with the words it matched."""
    for rule in RULES:
        for form in forms:
            found = rule.pattern.search(form)
            if found:
                return rule, found.group(0)
    return None
