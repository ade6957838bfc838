"""Datasets: creating and describing them (DCAT-AP metadata), publishing and archiving.

The publisher's members create datasets and edit their metadata; the data stewards (managers and
owners) publish, archive, and set the access rights. Every change re-assesses the metadata quality
(``metadata_assess`` of services/quality/) and stores the score with its reasons. Bad input raises
ValidationError naming the field; nothing is written.
"""

import datetime
import re
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from aifactory.core.errors import InvalidTransition
from aifactory.core.permissions import allowed, require_actor
from aifactory.core.services import audit_record, diff_fields

from ..models import AccessRights, Dataset, DatasetStatus, Frequency, Theme
from .listing import dataset_listing_notify

__all__ = [
    "DATASET_FIELDS",
    "LANGUAGES",
    "dataset_archive",
    "dataset_assess",
    "dataset_create",
    "dataset_publish",
    "dataset_update",
]

LANGUAGES = ("en", "de", "fr", "lb")
# The fields a ``data`` dict may hold; ``slug`` only when creating.
DATASET_FIELDS = (
    "title",
    "description",
    "keywords",
    "themes",
    "contact_name",
    "contact_email",
    "spatial",
    "temporal_start",
    "temporal_end",
    "frequency",
    "licence",
    "access_rights",
    "conformance",
    "provenance",
    "personal_data",
    "landing_page",
    "use_conditions",
    "declared_schema",
    "key_columns",
    "checks",
)
# Changing these is the data stewards' decision, not any member's.
GOVERNED_FIELDS = ("access_rights", "personal_data", "use_conditions")
TITLE_MAX = 300
DESCRIPTION_MAX = 20_000
KEYWORD_MAX = 100
# Short names that are page addresses (/datasets/new/).
RESERVED_SLUGS = frozenset({"new"})
SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,98}[a-z0-9])?$")


def _texts(field: str, value: Any, *, required: bool, max_length: int) -> dict[str, str]:
    if value in (None, "") and not required:
        return {}
    if isinstance(value, str):
        value = {"en": value}
    if not isinstance(value, dict):
        raise ValidationError({field: _('Give the text per language, e.g. {"en": "..."}.')})
    texts = {}
    for language, text in value.items():
        if language not in LANGUAGES:
            raise ValidationError(
                {
                    field: _("Unknown language %(lang)s: use %(langs)s.")
                    % {"lang": language, "langs": ", ".join(LANGUAGES)}
                }
            )
        if not isinstance(text, str):
            raise ValidationError({field: _("Each language's text must be a string.")})
        text = text.strip()
        if len(text) > max_length:
            raise ValidationError(
                {field: _("At most %(n)d characters per language.") % {"n": max_length}}
            )
        if text:
            texts[language] = text
    if required and not texts:
        raise ValidationError({field: _("Give it in at least one language (en, de, fr or lb).")})
    return texts


def _strings(field: str, value: Any, *, max_length: int = 200) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, str):
        value = [v for v in re.split(r"[,\n]", value)]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ValidationError({field: _("Give a list of texts.")})
    seen, items = set(), []
    for item in (v.strip() for v in value):
        if len(item) > max_length:
            raise ValidationError({field: _("At most %(n)d characters each.") % {"n": max_length}})
        if item and item.lower() not in seen:
            seen.add(item.lower())
            items.append(item)
    return items


def _date(field: str, value: Any) -> datetime.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value))
    except ValueError:
        raise ValidationError({field: _("Give a date as YYYY-MM-DD.")}) from None


def _clean(data: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    """The validated values of the given fields (only those given)."""
    allowed_fields = set(DATASET_FIELDS) | ({"slug"} if creating else set())
    unknown = sorted(set(data) - allowed_fields)
    if unknown:
        raise ValidationError(
            {name: _("Not a field of a dataset (or not one you can change).") for name in unknown}
        )
    clean: dict[str, Any] = {}
    errors: dict[str, list] = {}

    def check(field, fn):
        if field in data:
            try:
                clean[field] = fn(data[field])
            except ValidationError as exc:
                for name, messages in exc.message_dict.items():
                    errors.setdefault(name, []).extend(messages)

    check("title", lambda v: _texts("title", v, required=True, max_length=TITLE_MAX))
    check(
        "description",
        lambda v: _texts("description", v, required=False, max_length=DESCRIPTION_MAX),
    )
    check("keywords", lambda v: _strings("keywords", v, max_length=KEYWORD_MAX))

    def themes(value):
        codes = [c.upper() for c in _strings("themes", value, max_length=10)]
        bad = [c for c in codes if c not in Theme.values]
        if bad:
            raise ValidationError(
                {
                    "themes": _("Unknown theme %(codes)s: use the EU data themes (%(known)s).")
                    % {"codes": ", ".join(bad), "known": ", ".join(Theme.values)}
                }
            )
        return codes

    check("themes", themes)

    def text(field, max_length):
        def fn(value):
            value = "" if value is None else value
            if not isinstance(value, str):
                raise ValidationError({field: _("Give a text.")})
            if len(value.strip()) > max_length:
                raise ValidationError({field: _("At most %(n)d characters.") % {"n": max_length}})
            return value.strip()

        return fn

    for field, max_length in (
        ("contact_name", 200),
        ("spatial", 300),
        ("licence", 300),
        ("provenance", 20_000),
        ("use_conditions", 20_000),
    ):
        check(field, text(field, max_length))

    def email(value):
        value = text("contact_email", 254)(value)
        if value:
            try:
                validate_email(value)
            except ValidationError:
                raise ValidationError({"contact_email": _("Not an e-mail address.")}) from None
        return value

    check("contact_email", email)

    def url(field):
        def fn(value):
            value = text(field, 1000)(value)
            if value:
                try:
                    URLValidator(schemes=["http", "https"])(value)
                except ValidationError:
                    raise ValidationError({field: _("Not an http(s) address.")}) from None
            return value

        return fn

    check("landing_page", url("landing_page"))

    def conformance(value):
        items = _strings("conformance", value, max_length=1000)
        for item in items:
            try:
                URLValidator(schemes=["http", "https"])(item)
            except ValidationError:
                raise ValidationError(
                    {"conformance": _("Not an http(s) address: %(url)s") % {"url": item}}
                ) from None
        return items

    check("conformance", conformance)
    check("temporal_start", lambda v: _date("temporal_start", v))
    check("temporal_end", lambda v: _date("temporal_end", v))

    def choice(field, choices):
        def fn(value):
            value = "" if value is None else str(value)
            if value not in choices:
                raise ValidationError(
                    {field: _("Choose one of %(choices)s.") % {"choices": ", ".join(choices)}}
                )
            return value

        return fn

    check("frequency", choice("frequency", ["", *Frequency.values]))
    check("access_rights", choice("access_rights", AccessRights.values))

    def boolean(value):
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "1", "yes", "on"):
            return True
        if str(value).lower() in ("false", "0", "no", "off", ""):
            return False
        raise ValidationError({"personal_data": _("Give true or false.")})

    check("personal_data", boolean)

    def declared_schema(value):
        # One rule set with the quality page's: a type the checks cannot cast to is refused here too.
        from .quality import declared_schema_validate

        value = value or []
        declared_schema_validate(value)
        return value

    check("declared_schema", declared_schema)
    check("key_columns", lambda v: _strings("key_columns", v))

    def checks(value):
        value = value or []
        if not isinstance(value, list) or not all(isinstance(c, dict) for c in value):
            raise ValidationError({"checks": _("Give a list of checks.")})
        return value

    check("checks", checks)

    def slug(value):
        value = "" if value is None else str(value).strip().lower()
        if value and not SLUG_RE.match(value):
            raise ValidationError(
                {
                    "slug": _(
                        "Use lower-case letters, digits and hyphens (at most 100), starting and "
                        "ending with a letter or digit."
                    )
                }
            )
        return value

    check("slug", slug)
    if errors:
        raise ValidationError(errors)
    return clean


def _check_whole(dataset: Dataset) -> None:
    """Rules across fields, on the dataset as it would be saved."""
    errors: dict[str, list[str]] = {}
    if dataset.personal_data and dataset.access_rights == AccessRights.PUBLIC:
        errors["access_rights"] = [
            _(
                "A dataset with personal data cannot be public: choose registered, restricted or "
                "internal access rights."
            )
        ]
    if (
        dataset.temporal_start
        and dataset.temporal_end
        and dataset.temporal_start > dataset.temporal_end
    ):
        errors["temporal_end"] = [_("The end of the coverage is before its start.")]
    declared = {c["name"] for c in dataset.declared_schema or []}
    unknown_keys = [k for k in dataset.key_columns or [] if declared and k not in declared]
    if unknown_keys:
        errors["key_columns"] = [
            _("Not a declared column: %(names)s") % {"names": ", ".join(unknown_keys)}
        ]
    if errors:
        raise ValidationError(errors)
    from .quality import checks_validate

    if dataset.checks:
        checks_validate(dataset.checks, dataset.declared_schema or [])


def _free_slug(base: str) -> str:
    base = (base or "dataset")[:90].strip("-") or "dataset"
    slug, n = base, 2
    while slug in RESERVED_SLUGS or Dataset.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def identifier_for(slug: str) -> str:
    """The dct:identifier of a dataset published here (harvested datasets keep the source's)."""
    return f"aifh-{slug}"


def _assess(dataset: Dataset) -> None:
    """Store the metadata quality score (services/quality/ ``metadata_assess``)."""
    from .quality import metadata_assess

    score, reasons = metadata_assess(dataset)
    dataset.metadata_score, dataset.metadata_reasons = score, reasons


def dataset_assess(*, dataset_id) -> None:
    """Store the metadata score again when a version becomes ready: the score counts the newest
    ready version's formats, which no metadata edit changes. Only the score is written, under the
    dataset's lock, so an edit made at the same time is neither lost nor scored stale."""
    with transaction.atomic():
        dataset = Dataset.objects.select_for_update().get(pk=dataset_id)
        _assess(dataset)
        Dataset.objects.filter(pk=dataset.pk).update(
            metadata_score=dataset.metadata_score, metadata_reasons=dataset.metadata_reasons
        )


@transaction.atomic
def dataset_create(*, actor, organisation, data: dict[str, Any]) -> Dataset:
    """A new draft dataset of ``organisation``; ``data`` holds Dataset field names (title and
    description as {language: text}) and optionally ``slug`` (made from the title otherwise)."""
    require_actor(actor, "dataset.create", organisation)
    if "title" not in data:
        raise ValidationError({"title": _("Give it in at least one language (en, de, fr or lb).")})
    clean = _clean(data, creating=True)
    slug = clean.pop("slug", "")
    if slug:
        if slug in RESERVED_SLUGS or Dataset.objects.filter(slug=slug).exists():
            raise ValidationError({"slug": _("This short name is taken: choose another.")})
    else:
        title = clean["title"]
        slug = _free_slug(slugify(title.get("en") or next(iter(title.values()))))
    dataset = Dataset(publisher=organisation, slug=slug, identifier=identifier_for(slug))
    for field, value in clean.items():
        setattr(dataset, field, value)
    _check_whole(dataset)
    if Dataset.objects.filter(source__isnull=True, identifier=dataset.identifier).exists():
        raise ValidationError({"slug": _("This short name is taken: choose another.")})
    _assess(dataset)
    dataset.save()
    audit_record(
        actor=actor,
        action="dataset.create",
        obj=dataset,
        organisation_id=organisation.pk,
        changes={"slug": dataset.slug, "access_rights": dataset.access_rights},
    )
    return dataset


@transaction.atomic
def dataset_update(*, actor, dataset: Dataset, data: dict[str, Any]) -> Dataset:
    """Change the metadata of ``dataset``. Access rights, personal data and the data-use conditions
    are the stewards' to change; an archived dataset is not edited."""
    require_actor(actor, "dataset.edit", dataset)
    dataset = Dataset.objects.select_for_update().get(pk=dataset.pk)
    if dataset.status == DatasetStatus.ARCHIVED:
        raise InvalidTransition(_("An archived dataset is not edited: publish it again first."))
    clean = _clean(data, creating=False)
    if actor is not None and not allowed(actor, "dataset.govern", dataset):
        governed = [f for f in GOVERNED_FIELDS if f in clean and clean[f] != getattr(dataset, f)]
        if governed:
            raise ValidationError(
                {
                    f: _("Only the publisher's data stewards (managers) change this.")
                    for f in governed
                }
            )
    changes = diff_fields(dataset, clean)
    if not changes:
        return dataset
    _check_whole(dataset)
    _assess(dataset)
    dataset.save()
    audit_record(
        actor=actor,
        action="dataset.update",
        obj=dataset,
        organisation_id=dataset.publisher_id,
        changes=changes,
    )
    if changes.keys() & {"declared_schema", "key_columns", "checks"}:
        _recheck_on_commit(dataset)
    dataset_listing_notify(dataset)
    return dataset


def _recheck_on_commit(dataset: Dataset) -> None:
    """The newest ready version is checked again against the changed schema and checks."""
    from .quality import version_check_quality

    version = dataset.newest_ready_version()
    if version is not None:
        transaction.on_commit(lambda: version_check_quality(version))


@transaction.atomic
def dataset_publish(*, actor, dataset: Dataset) -> Dataset:
    """Draft or archived → published: listed in the catalogue (unless internal)."""
    require_actor(actor, "dataset.govern", dataset)
    dataset = Dataset.objects.select_for_update().get(pk=dataset.pk)
    if dataset.status == DatasetStatus.PUBLISHED:
        raise InvalidTransition(_("The dataset is published already."))
    _check_whole(dataset)
    old = dataset.status
    dataset.status = DatasetStatus.PUBLISHED
    if dataset.issued_at is None:
        dataset.issued_at = timezone.now()
    _assess(dataset)
    dataset.save()
    audit_record(
        actor=actor,
        action="dataset.publish",
        obj=dataset,
        organisation_id=dataset.publisher_id,
        changes={"status": [old, dataset.status]},
    )
    dataset_listing_notify(dataset)
    return dataset


@transaction.atomic
def dataset_archive(*, actor, dataset: Dataset) -> Dataset:
    """Draft or published → archived: no longer listed, no new versions, and its data is no
    longer served to anyone (downloads, previews, queries and new jobs all need a published
    dataset), grantees included. Its metadata and versions stay for the publisher."""
    require_actor(actor, "dataset.govern", dataset)
    dataset = Dataset.objects.select_for_update().get(pk=dataset.pk)
    if dataset.status == DatasetStatus.ARCHIVED:
        raise InvalidTransition(_("The dataset is archived already."))
    old = dataset.status
    dataset.status = DatasetStatus.ARCHIVED
    dataset.save(update_fields=["status", "updated_at"])
    audit_record(
        actor=actor,
        action="dataset.archive",
        obj=dataset,
        organisation_id=dataset.publisher_id,
        changes={"status": [old, dataset.status]},
    )
    dataset_listing_notify(dataset)
    return dataset
