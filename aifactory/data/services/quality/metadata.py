"""The metadata score of a dataset: what a data user needs to find, judge and reuse it."""

from django.utils.translation import gettext_noop

OPEN_FORMATS = {"csv", "tsv", "parquet", "jsonl", "json"}


def _reason(field: str, points: int, most: int, message: str) -> dict:
    return {"field": field, "points": int(points), "max": most, "message": message}


def metadata_assess(dataset) -> tuple[int, list[dict]]:
    """Score the dataset's metadata 0–100 by what a data user needs to find, judge and reuse it
    (in the spirit of the data.europa.eu metadata quality assessment); reads, never writes."""
    reasons = []
    # Description: the longest text in any language.
    description = max(
        (len((t or "").strip()) for t in (dataset.description or {}).values()), default=0
    )
    if description >= 100:
        reasons.append(
            _reason("description", 20, 20, gettext_noop("The description is informative."))
        )
    elif description >= 30:
        reasons.append(
            _reason(
                "description",
                10,
                20,
                gettext_noop("The description is short (under 100 characters)."),
            )
        )
    else:
        reasons.append(
            _reason("description", 0, 20, gettext_noop("The description is missing or very short."))
        )

    if (dataset.licence or "").strip():
        reasons.append(_reason("licence", 15, 15, gettext_noop("A licence is given.")))
    else:
        reasons.append(
            _reason(
                "licence",
                0,
                15,
                gettext_noop("No licence: nobody knows how the data may be reused."),
            )
        )

    if dataset.contact_email:
        reasons.append(_reason("contact", 10, 10, gettext_noop("A contact e-mail is given.")))
    elif (dataset.contact_name or "").strip():
        reasons.append(
            _reason("contact", 5, 10, gettext_noop("A contact name is given but no e-mail."))
        )
    else:
        reasons.append(_reason("contact", 0, 10, gettext_noop("No contact point.")))

    if (dataset.spatial or "").strip():
        reasons.append(_reason("spatial", 8, 8, gettext_noop("The spatial coverage is given.")))
    else:
        reasons.append(_reason("spatial", 0, 8, gettext_noop("No spatial coverage.")))

    if dataset.temporal_start and dataset.temporal_end:
        reasons.append(_reason("temporal", 8, 8, gettext_noop("The temporal coverage is given.")))
    elif dataset.temporal_start or dataset.temporal_end:
        reasons.append(
            _reason("temporal", 4, 8, gettext_noop("The temporal coverage has only one end."))
        )
    else:
        reasons.append(_reason("temporal", 0, 8, gettext_noop("No temporal coverage.")))

    if dataset.frequency and dataset.frequency != "UNKNOWN":
        reasons.append(_reason("frequency", 8, 8, gettext_noop("The update frequency is given.")))
    else:
        reasons.append(_reason("frequency", 0, 8, gettext_noop("No update frequency.")))

    keywords = [k for k in (dataset.keywords or []) if str(k).strip()]
    if len(keywords) >= 3:
        reasons.append(_reason("keywords", 8, 8, gettext_noop("Three or more keywords.")))
    elif keywords:
        reasons.append(_reason("keywords", 4, 8, gettext_noop("Fewer than three keywords.")))
    else:
        reasons.append(_reason("keywords", 0, 8, gettext_noop("No keywords.")))

    if dataset.themes:
        reasons.append(
            _reason("themes", 7, 7, gettext_noop("At least one theme of the EU vocabulary."))
        )
    else:
        reasons.append(_reason("themes", 0, 7, gettext_noop("No theme.")))

    if dataset.conformance and (dataset.provenance or "").strip():
        reasons.append(
            _reason("conformance", 6, 6, gettext_noop("Conformance and provenance are given."))
        )
    elif dataset.conformance or (dataset.provenance or "").strip():
        reasons.append(
            _reason(
                "conformance",
                3,
                6,
                gettext_noop("Only one of conformance and provenance is given."),
            )
        )
    else:
        reasons.append(
            _reason("conformance", 0, 6, gettext_noop("No conformance and no provenance."))
        )

    version = dataset.newest_ready_version()
    formats = [d.format for d in version.distributions.all()] if version else []
    if not formats:
        reasons.append(_reason("formats", 0, 6, gettext_noop("No data yet.")))
    else:
        share = sum(
            1.0 if f in OPEN_FORMATS else 0.5 if f == "xlsx" else 0.0 for f in formats
        ) / len(formats)
        if share >= 1:
            reasons.append(
                _reason(
                    "formats",
                    6,
                    6,
                    gettext_noop("Every file is in an open, machine-readable format."),
                )
            )
        else:
            reasons.append(
                _reason(
                    "formats",
                    round(6 * share),
                    6,
                    gettext_noop(
                        "Some files are not in an open, machine-readable format (CSV, Parquet, JSON)."
                    ),
                )
            )

    if dataset.landing_page:
        reasons.append(_reason("landing_page", 4, 4, gettext_noop("A landing page is given.")))
    else:
        reasons.append(_reason("landing_page", 0, 4, gettext_noop("No landing page.")))

    score = sum(r["points"] for r in reasons)
    return max(0, min(100, score)), reasons
