"""Languages: the four the hub's texts are written in, the ISO 639-1 codes, and a cheap guess.

The guess counts frequent short words (and two letters no other of the four uses much). It is
meant for a provider's title or description given as a plain string, where the language was not
said; it is no general language identifier.
"""

import re

TEXT_LANGUAGES = ("en", "de", "fr", "lb")

# ISO 639-1 (two-letter) language codes.
ISO_639_1 = frozenset(
    """aa ab ae af ak am an ar as av ay az ba be bg bi bm bn bo br bs ca ce ch co cr cs cu cv cy
    da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu
    hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb
    lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om
    or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw
    ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu""".split()  # noqa: SIM905
)

STOPWORDS = {
    "en": """the and of to for with your you our we is are in on this that it from by be
        can will an or at as their they which have has not all more how""",
    "de": """der die das und ist nicht mit für ein eine einen wir sie ihre ihr auf von zu
        im sich auch werden wird oder bei den dem des unsere unser können sind zur zum""",
    "fr": """le la les des et est une un pour dans vous nous avec sur du au aux qui que pas
        par votre vos nos notre ce cette sont être plus leur ou""",
    "lb": """an ass mat fir eng den dat net och vun op sinn mir ech hunn gëtt kënnen eis äre
        wéi awer nach dës bei iwwer ze déi si ären mäi eisen gi gouf huet dir""",
}
_WORDS = {lang: frozenset(words.split()) for lang, words in STOPWORDS.items()}
_TOKEN = re.compile(r"[^\W\d_]+", re.UNICODE)


def guess_language(text: str, default: str = "en") -> str:
    """The most likely of en, de, fr, lb; ``default`` when nothing tells them apart."""
    words = _TOKEN.findall((text or "").lower())
    scores = {lang: sum(1 for w in words if w in _WORDS[lang]) for lang in TEXT_LANGUAGES}
    # ë is frequent in Luxembourgish and rare elsewhere; ß is German only.
    scores["lb"] += 2 * sum(w.count("ë") for w in words)
    scores["de"] += 2 * sum(w.count("ß") for w in words)
    best = max(TEXT_LANGUAGES, key=lambda lang: scores[lang])
    if scores[best] == 0:
        return default
    # Ties go to the default first, then in the order of TEXT_LANGUAGES.
    if scores.get(default, 0) == scores[best]:
        return default
    return best
