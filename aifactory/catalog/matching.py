"""Matchmaking: a need in free text (en, de, fr, lb) to a ranked, explained list of offerings.

The ranking is hybrid: the cosine of multilingual embeddings (so a German need finds a French
listing) plus a weighted, normalised BM25 score (so exact words — a product name, "Handwierk" —
count). Eligibility rules of funding and services are checked against the organisation's profile:
offerings that exclude it are not dropped silently but marked, with the reason, after the others.
"""

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from django.core.exceptions import ValidationError
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from aifactory.core.language import STOPWORDS, TEXT_LANGUAGES, guess_language
from aifactory.core.taxonomy import OrganisationKind, Sector, SizeClass

from .models import Offering, OfferingType

MAX_TEXT = 5000  # characters of a need; longer texts are refused with a clear message
DEFAULT_LIMIT = 10
MAX_LIMIT = 100
# The portal keeps the last need in the session, so "Ask the factory" can carry a long text
# to the case form (and through a sign-in) without putting it in an address.
SESSION_KEY = "catalog.last_need"


@dataclass(frozen=True)
class Group:
    """A next step: results are shown grouped so a person sees what to do first."""

    key: str
    label: str
    hint: str


GROUPS = (
    Group("use", _("Ready-made solutions"), _("What you could use")),
    Group("talk", _("Whom to talk to"), _("Services and experts who can help")),
    Group("learn", _("What to learn"), _("Courses for you and your team")),
    Group("fund", _("Which funding applies"), _("Programmes that can pay for part of it")),
    Group("access", _("Which compute access to request"), _("Access modes of the supercomputer")),
    Group("data", _("Data and models"), _("Datasets and models to build on")),
)
GROUP_BY_KEY = {g.key: g for g in GROUPS}


@dataclass(frozen=True)
class Reason:
    """Why an offering is in the list. ``kind`` is one of: text, sector, language, eligibility,
    not_eligible, stage. ``message`` is translated plain text (escape it when rendering)."""

    kind: str
    message: str


@dataclass
class Match:
    offering: Offering
    score: float  # 0..1, higher is better
    reasons: list[Reason]
    eligible: bool = True
    group: str = "use"  # a Group.key

    def as_dict(self) -> dict:
        """The form of the API, the CLI and the snapshot kept with a support case."""
        return {
            "id": self.offering.external_id,
            "type": self.offering.type,
            "title": self.offering.display_title,
            "score": self.score,
            "reasons": [r.message for r in self.reasons],
            "eligible": self.eligible,
            "group": self.group,
        }


@dataclass
class Profile:
    """What is known of the organisation asking: from its record, or given in the request."""

    sector: str = ""
    kind: str = ""
    size: str = ""
    country: str = ""


@dataclass
class MatchResult:
    text: str
    language: str  # the language the need is written in (guessed)
    profile: Profile
    matches: list[Match] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)  # e.g. "written in another language"

    def as_dict(self) -> dict:
        return {
            "text": self.text,
            "language": self.language,
            "profile": {
                "sector": self.profile.sector,
                "kind": self.profile.kind,
                "size": self.profile.size,
                "country": self.profile.country,
            },
            "notices": list(self.notices),
            "results": [m.as_dict() for m in self.matches],
            "groups": [
                {"key": g.key, "label": str(g.label), "ids": [m.offering.external_id for m in ms]}
                for g, ms in self.grouped()
            ],
        }

    def grouped(self) -> list[tuple[Group, list[Match]]]:
        """The matches by next step, groups in the order of GROUPS, only non-empty ones."""
        by_group: dict[str, list[Match]] = {}
        for m in self.matches:
            by_group.setdefault(m.group, []).append(m)
        return [(g, by_group[g.key]) for g in GROUPS if g.key in by_group]


# --- analysis -------------------------------------------------------------------------------

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n+")
PREFIX = 6  # words are cut to their first six letters: a cheap stemmer for four languages


def fold(text: str) -> str:
    """Lower case without accents, so "Bäckerei", "backerei" and "BÄCKEREI" are one word."""
    text = unicodedata.normalize("NFKD", text.lower().replace("ß", "ss"))
    return "".join(c for c in text if not unicodedata.combining(c))


def _stopwords() -> frozenset[str]:
    words = set()
    for lang_words in STOPWORDS.values():
        words.update(fold(w) for w in lang_words.split())
    words.update(fold(w) for w in EXTRA_STOPWORDS.split())
    return frozenset(words)


# Frequent words the short lists of core.language leave out; in a need they carry no topic.
EXTRA_STOPWORDS = """
    a about after also am any been but do does each every get got had he her here him his i if
    into its just like many me my no one only other out over so some than them then there these
    those too us very was were what when where who why would yes
    aber als alle allem allen aller alles am an bis da dann dass dem denn diese diesem diesen
    dieser dies doch dort durch er es etwas gibt habe haben hat hier ich in ist ja jede jeden
    jeder jedes kann kein keine man mehr mich mir muss nach nie noch nur ob oft ohne schon sehr
    so soll sollen uns viel viele vom was weil welche wenn wie wir wo
    a ai au aussi avec avons ce ces chaque comme dans de elle en est et faut il ils je jamais
    la le les leurs ma mais me mes moi mon ne notre on ont ou où peu peut plus pour qu quand
    quoi sa sans se ses si son sont souvent sur ta te tes toujours tous tout toute toutes très
    tu un une vers
    all alles als am bäi bis da dann datt de dee deem der des do du een ee eppes er et gär
    hat hei hien hir hu iech ier kann kee keng kënnt mam mech meng menge méi mer muss mussen
    no ons sech sou um un vu vum wann war wat wëll zu vill ni weess bleift ëmmer dacks eppes
    wéini wou firwat een kéint géif hätte gär
"""
_STOP: frozenset[str] = frozenset()


def analyse(text: str) -> list[str]:
    """The words of a text as the lexical index sees them."""
    global _STOP
    if not _STOP:
        _STOP = _stopwords()
    out = []
    for word in _WORD.findall(fold(text)):
        if len(word) < 2 or word.isdigit() or word in _STOP:
            continue
        out.append(word[:PREFIX])
    return out


# --- Luxembourgish -------------------------------------------------------------------------

LEXICON = Path(__file__).with_name("lexicon") / "lb-de.txt"
_GLOSSARY: dict[str, str] = {}


def _glossary() -> dict[str, str]:
    if not _GLOSSARY:
        for line in LEXICON.read_text(encoding="utf-8").splitlines():
            if "=" in line and not line.lstrip().startswith("#"):
                lb, de = (part.strip() for part in line.split("=", 1))
                _GLOSSARY.setdefault(fold(lb), de)
    return _GLOSSARY


def to_german(text: str) -> str:
    """A word-by-word German rendering of a Luxembourgish text: crude, but the encoder knows
    German, and most Luxembourgish words it does not know have a close German cousin."""
    glossary = _glossary()

    def swap(m: re.Match) -> str:
        word = m.group(0)
        return glossary.get(fold(word), word)

    return re.sub(r"[^\W\d_][\w-]*", swap, text)


# --- ranking --------------------------------------------------------------------------------

# cosine + this × normalised BM25. Measured on benchmarks/relevance (docs/benchmarks.md): the
# multilingual encoder does not know Luxembourgish, so its needs lean more on their words.
# Luxembourgish needs are also rendered word by word into German (see to_german).
LEXICAL_WEIGHT = {"en": 0.5, "de": 0.5, "fr": 0.5, "lb": 1.0, "other": 0.5}
SECTOR_BONUS = 0.05
FLOOR = 0.2  # below this combined score a result says nothing about the need
ELIGIBILITY_TYPES = (OfferingType.FUNDING, OfferingType.SERVICE)
MAX_NOT_ELIGIBLE = 3
FACETS = ("type", "sector", "stage", "language", "deployment")


def clean_text(text) -> str:
    text = (text or "").strip() if isinstance(text, str) else ""
    if not text:
        raise ValidationError({"text": [gettext("Describe your business and your need.")]})
    if len(text) > MAX_TEXT:
        raise ValidationError(
            {
                "text": [
                    gettext("Please keep it to %(limit)s characters; this text has %(count)s.")
                    % {"limit": MAX_TEXT, "count": len(text)}
                ]
            }
        )
    return text


def _profile(organisation, sector: str, profile: Profile | None) -> Profile:
    if sector and sector not in Sector.values:
        raise ValidationError({"sector": [gettext("Unknown sector “%s”.") % sector]})
    result = Profile()
    if organisation is not None:
        result = Profile(
            sector=(organisation.sectors or [""])[0],
            kind=organisation.kind,
            size=organisation.size_class if organisation.size_class != "unknown" else "",
            country=str(organisation.country or ""),
        )
    if profile is not None:
        check_profile(profile)
        result = Profile(
            sector=profile.sector or result.sector,
            kind=profile.kind or result.kind,
            size=profile.size or result.size,
            country=profile.country or result.country,
        )
    if sector:
        result.sector = sector
    return result


def check_profile(profile: Profile) -> None:
    checks = (
        ("kind", profile.kind, OrganisationKind.values),
        ("size", profile.size, [v for v in SizeClass.values if v != "unknown"]),
        ("sector", profile.sector, Sector.values),
    )
    for name, value, allowed in checks:
        if value and value not in allowed:
            raise ValidationError(
                {name: [gettext("Unknown value “%(value)s”.") % {"value": value}]}
            )
    if profile.country and not re.fullmatch(r"[A-Z]{2}", profile.country):
        raise ValidationError(
            {"country": [gettext("Give a country as a two-letter code, such as LU.")]}
        )


def need_language(text: str) -> str:
    """One of en, de, fr, lb, or "other" when the text is mostly in another script."""
    letters = [c for c in text if c.isalpha()]
    latin = sum(1 for c in letters if "LATIN" in unicodedata.name(c, ""))
    if letters and latin < len(letters) / 2:
        return "other"
    return guess_language(text)


def _group(offering) -> str:
    if offering.type == OfferingType.SERVICE and any(
        t.lower() == "access mode" for t in offering.tags or []
    ):
        return "access"
    return {
        OfferingType.SOLUTION: "use",
        OfferingType.SERVICE: "talk",
        OfferingType.PROVIDER: "talk",
        OfferingType.COURSE: "learn",
        OfferingType.FUNDING: "fund",
        OfferingType.DATASET: "data",
        OfferingType.MODEL: "data",
    }.get(offering.type, "use")


def _labels(choices, values) -> str:
    names = dict(choices.choices)
    return ", ".join(str(names.get(v, v)) for v in values)


def _eligibility(offering, profile: Profile) -> tuple[bool, Reason | None]:
    """Whether the organisation may use this funding or service, and why (None: no rules)."""
    if offering.type not in ELIGIBILITY_TYPES:
        return True, None
    kinds, sizes = offering.for_kinds or [], offering.for_sizes or []
    countries = offering.eligible_countries or []
    if profile.kind and kinds and profile.kind not in kinds:
        return False, Reason(
            "not_eligible",
            gettext("Not for your organisation: only for %(kinds)s.")
            % {"kinds": _labels(OrganisationKind, kinds)},
        )
    if profile.size and sizes and profile.size not in sizes:
        return False, Reason(
            "not_eligible",
            gettext("Not for your organisation: only for %(sizes)s enterprises.")
            % {"sizes": _labels(SizeClass, sizes).lower()},
        )
    if profile.country and countries and profile.country not in countries:
        return False, Reason(
            "not_eligible",
            gettext("Not for your organisation: only for organisations in %(countries)s.")
            % {"countries": ", ".join(countries)},
        )
    if profile.kind and (kinds or sizes or countries):
        return True, Reason("eligibility", gettext("Your organisation is eligible."))
    if kinds:
        return True, Reason(
            "eligibility",
            gettext("Open to: %(kinds)s.") % {"kinds": _labels(OrganisationKind, kinds)},
        )
    return True, None


def _language_name(code: str) -> str:
    from django.utils.translation import get_language_info

    try:
        return str(get_language_info(code)["name_translated"])
    except KeyError:
        return code


def _sentences(text: str) -> list[str]:
    parts = [p.strip() for p in _SENTENCE.split(text) if p and len(p.strip()) > 15]
    return parts[:20]


def _quote(sentence: str, limit: int = 140) -> str:
    return sentence if len(sentence) <= limit else sentence[: limit - 1].rstrip() + "…"


def _reasons(hit, offering, text_words, language, profile, answered: str | None) -> list[Reason]:
    reasons = []
    if answered:
        reasons.append(Reason("text", gettext("Answers “%(part)s”") % {"part": answered}))
    words = [text_words[t] for t in hit.terms if t in text_words][:5]
    if words and hit.lexical >= 0.1:
        reasons.append(
            Reason(
                "text",
                ngettext(
                    "Mentions your word %(words)s.",
                    "Mentions your words %(words)s.",
                    len(words),
                )
                % {"words": ", ".join(f"“{w}”" for w in words)},
            )
        )
    if profile.sector and profile.sector in (offering.sectors or []):
        reasons.append(
            Reason(
                "sector",
                gettext("For your sector: %(sector)s.")
                % {"sector": dict(Sector.choices).get(profile.sector, profile.sector)},
            )
        )
    written = [lang for lang in TEXT_LANGUAGES if hit.doc.facets["text_language"] & {lang}]
    if language in hit.doc.facets["language"]:
        reasons.append(
            Reason(
                "language",
                gettext("Available in %(language)s.") % {"language": _language_name(language)},
            )
        )
    elif written:
        reasons.append(
            Reason(
                "language",
                gettext("Described in %(languages)s; found by meaning.")
                % {"languages": ", ".join(_language_name(lang) for lang in written)},
            )
        )
    return reasons


def match(
    text,
    *,
    user=None,
    organisation=None,
    sector: str = "",
    limit: int = DEFAULT_LIMIT,
    profile: Profile | None = None,
    facets: dict[str, list[str]] | None = None,
) -> MatchResult:
    """Rank the published offerings for a need; see the module docstring."""
    from .embeddings import get_embedder
    from .index import get_index

    text = clean_text(text)
    who = _profile(organisation, sector, profile)
    limit = max(1, min(int(limit or DEFAULT_LIMIT), MAX_LIMIT))
    language = need_language(text)
    result = MatchResult(text=text, language=language, profile=who)
    if language == "other":
        result.notices.append(
            gettext(
                "Your text seems to be in a language other than English, German, French or "
                "Luxembourgish; the results may be less precise."
            )
        )
    selected = {name: frozenset(values) for name, values in (facets or {}).items() if values}
    unknown = set(selected) - set(FACETS)
    if unknown:
        raise ValidationError({"facets": [gettext("Unknown filter “%s”.") % sorted(unknown)[0]]})

    embedder = get_embedder()
    seen = to_german(text) if language == "lb" else text
    sentences = _sentences(text)
    seen_sentences = [to_german(s) for s in sentences] if seen != text else sentences
    vectors = embedder.embed_queries([seen, *seen_sentences]) if len(sentences) > 1 else None
    vector = vectors[0] if vectors is not None else embedder.embed_queries([seen])[0]
    terms = analyse(text) + (analyse(seen) if seen != text else [])
    text_words: dict[str, str] = {}
    for word in _WORD.findall(text):
        for term in analyse(word):
            text_words.setdefault(term, word)

    index = get_index()
    wanted = limit + MAX_NOT_ELIGIBLE + 5  # room for the sector bonus and for exclusions
    hits = index.search(
        terms,
        vector,
        facets=selected,
        lexical_weight=LEXICAL_WEIGHT.get(language, 0.5),
        limit=wanted + 10,
    )
    sector_set = frozenset([who.sector]) if who.sector else frozenset()
    weight = LEXICAL_WEIGHT.get(language, 0.5)
    scored = []
    for hit in hits:
        score = hit.cosine + weight * hit.lexical
        if sector_set and hit.doc.facets["sector"] & sector_set:
            score += SECTOR_BONUS
        if score >= FLOOR:
            scored.append((score, hit))
    scored.sort(key=lambda pair: -pair[0])
    scored = scored[:wanted]
    offerings = Offering.objects.in_bulk([hit.doc.pk for _s, hit in scored])

    eligible, excluded = [], []
    for score, hit in scored:
        offering = offerings.get(hit.doc.pk)
        if offering is None:
            continue
        ok, eligibility = _eligibility(offering, who)
        answered = None
        if vectors is not None and hit.vector is not None:
            best = int((vectors[1:] @ hit.vector).argmax())
            answered = _quote(sentences[best])
        reasons = _reasons(hit, offering, text_words, language, who, answered)
        if eligibility is not None:
            reasons.append(eligibility)
        item = Match(
            offering=offering,
            score=round(min(1.0, max(0.0, score / (1 + weight))), 4),
            reasons=reasons,
            eligible=ok,
            group=_group(offering),
        )
        (eligible if ok else excluded).append(item)
    eligible = eligible[:limit]
    floor = eligible[-1].score if len(eligible) == limit else 0.0
    result.matches = eligible + [m for m in excluded if m.score >= floor][:MAX_NOT_ELIGIBLE]
    if not result.matches:
        result.notices.append(
            gettext(
                "Nothing in the catalogue matches this well. Say a little more about your "
                "business and what you want to improve, or ask the factory directly."
            )
        )
    return result
