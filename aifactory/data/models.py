"""Data: datasets with DCAT-AP metadata, immutable versions of one or more files (distributions),
their profiles and quality, access requests and grants, the access log, uploads in progress and
harvest sources.

A version never changes once it is ready: new data makes a new version. Files live in the storage
of ``data.storage`` under keys the services choose (never a name a user typed); a distribution
records the key, size and SHA-256 of what was stored.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from aifactory.core.models import BaseModel


class AccessRights(models.TextChoices):
    PUBLIC = "public", _("public: anyone")
    REGISTERED = "registered", _("registered: any signed-in person")
    RESTRICTED = "restricted", _("restricted: on request")
    INTERNAL = "internal", _("internal: the publisher's members")


class DatasetStatus(models.TextChoices):
    DRAFT = "draft", pgettext_lazy("dataset", "draft")
    PUBLISHED = "published", pgettext_lazy("dataset", "published")
    ARCHIVED = "archived", pgettext_lazy("dataset", "archived")


class Frequency(models.TextChoices):
    """The EU frequency vocabulary (publications.europa.eu/resource/authority/frequency), the
    common part. ``days`` below is how old the newest data may be before it counts as stale."""

    CONTINUOUS = "CONT", _("continuously updated")
    DAILY = "DAILY", _("daily")
    WEEKLY = "WEEKLY", _("weekly")
    MONTHLY = "MONTHLY", _("monthly")
    QUARTERLY = "QUARTERLY", _("quarterly")
    ANNUAL = "ANNUAL", _("annual")
    IRREGULAR = "IRREG", _("irregular")
    NEVER = "NEVER", _("never (a closed dataset)")
    UNKNOWN = "UNKNOWN", _("unknown")


FREQUENCY_DAYS = {
    "CONT": 2,
    "DAILY": 2,
    "WEEKLY": 8,
    "MONTHLY": 32,
    "QUARTERLY": 93,
    "ANNUAL": 366,
}


class Theme(models.TextChoices):
    """The EU data themes vocabulary (publications.europa.eu/resource/authority/data-theme)."""

    AGRI = "AGRI", _("Agriculture, fisheries, forestry and food")
    ECON = "ECON", _("Economy and finance")
    EDUC = "EDUC", _("Education, culture and sport")
    ENER = "ENER", _("Energy")
    ENVI = "ENVI", _("Environment")
    GOVE = "GOVE", _("Government and public sector")
    HEAL = "HEAL", _("Health")
    INTR = "INTR", _("International issues")
    JUST = "JUST", _("Justice, legal system and public safety")
    REGI = "REGI", _("Regions and cities")
    SOCI = "SOCI", _("Population and society")
    TECH = "TECH", _("Science and technology")
    TRAN = "TRAN", _("Transport")


class HarvestStatus(models.TextChoices):
    """Where a harvest stands; a source is QUEUED between being claimed and its run starting."""

    QUEUED = "queued", pgettext_lazy("harvest", "queued")
    RUNNING = "running", pgettext_lazy("harvest", "running")
    DONE = "done", pgettext_lazy("harvest", "done")
    FAILED = "failed", pgettext_lazy("harvest", "failed")


class HarvestSource(BaseModel):
    """A catalogue the hub reads datasets from (a DCAT-AP endpoint, or a file stored here)."""

    name = models.SlugField(_("name"), max_length=80, unique=True)
    title = models.CharField(_("title"), max_length=200, blank=True)
    # An https URL of a DCAT-AP document (RDF/XML, Turtle, JSON-LD), or empty when a file was given.
    url = models.URLField(_("address"), max_length=1000, blank=True)
    # Storage key of an uploaded DCAT-AP file (instead of a URL).
    file_key = models.CharField(max_length=300, blank=True)
    publisher = models.ForeignKey(
        "accounts.Organisation",
        on_delete=models.PROTECT,
        related_name="harvest_sources",
        verbose_name=_("publisher of the harvested datasets"),
    )
    interval_hours = models.PositiveIntegerField(_("harvest every (hours)"), default=24)
    is_active = models.BooleanField(_("active"), default=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_status = models.CharField(max_length=20, choices=HarvestStatus.choices, blank=True)
    last_error = models.TextField(blank=True)
    last_counts = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("harvest source")

    def __str__(self) -> str:
        return self.name


class HarvestRun(BaseModel):
    source = models.ForeignKey(HarvestSource, on_delete=models.CASCADE, related_name="runs")
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=20, choices=HarvestStatus.choices, default=HarvestStatus.RUNNING
    )
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    gone = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at"]


# Shown in public listings (catalogue, search, DCAT-AP) to anybody: published and not internal.
# ``Dataset.objects.listed()`` and ``Dataset.is_listed`` say the same; this is for combining.
LISTED = models.Q(status=DatasetStatus.PUBLISHED) & ~models.Q(access_rights=AccessRights.INTERNAL)


class DatasetQuerySet(models.QuerySet):
    def listed(self):
        return self.filter(LISTED)

    def with_newest_ready_version(self):
        """Load each dataset's ready versions (with their files) in one query for all, so
        ``newest_ready_version()`` asks the database nothing more."""
        return self.prefetch_related(
            models.Prefetch(
                "versions",
                queryset=DatasetVersion.objects.ready()
                .order_by("-number")
                .prefetch_related("distributions"),
                to_attr="ready_versions",
            )
        )


class Dataset(BaseModel):
    """A dataset as DCAT-AP 3 describes it; its data is in its versions."""

    objects = DatasetQuerySet.as_manager()

    publisher = models.ForeignKey(
        "accounts.Organisation",
        on_delete=models.PROTECT,
        related_name="datasets",
        verbose_name=_("publisher"),
    )
    # dct:identifier: ours ("aifh-<slug>") or, for harvested datasets, the source's.
    identifier = models.CharField(_("identifier"), max_length=500)
    slug = models.SlugField(_("short name"), max_length=100, unique=True)
    title = models.JSONField(_("title"), default=dict)  # {"en": "...", "de": "..."}
    description = models.JSONField(_("description"), default=dict)
    keywords = models.JSONField(_("keywords"), default=list, blank=True)
    themes = models.JSONField(_("themes"), default=list, blank=True)  # Theme codes
    contact_name = models.CharField(_("contact name"), max_length=200, blank=True)
    contact_email = models.EmailField(_("contact e-mail"), blank=True)
    # Country or place: a code of the EU country vocabulary ("LUX") or a URI.
    spatial = models.CharField(_("spatial coverage"), max_length=300, blank=True)
    temporal_start = models.DateField(_("covers from"), null=True, blank=True)
    temporal_end = models.DateField(_("covers until"), null=True, blank=True)
    frequency = models.CharField(
        _("update frequency"), max_length=20, choices=Frequency.choices, blank=True
    )
    # A code of the EU licence vocabulary ("CC_BY_4_0") or a licence URI.
    licence = models.CharField(_("licence"), max_length=300, blank=True)
    access_rights = models.CharField(
        _("access rights"),
        max_length=20,
        choices=AccessRights.choices,
        default=AccessRights.INTERNAL,
    )
    # dct:conformsTo: standards or schemas the data follows (URIs).
    conformance = models.JSONField(_("conforms to"), default=list, blank=True)
    provenance = models.TextField(_("provenance"), blank=True)
    personal_data = models.BooleanField(_("contains personal data"), default=False)
    landing_page = models.URLField(_("landing page"), max_length=1000, blank=True)
    # The conditions a data user accepts with an access request (restricted data).
    use_conditions = models.TextField(_("data-use conditions"), blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=DatasetStatus.choices, default=DatasetStatus.DRAFT
    )
    # What the publisher declares of the tabular data (checked on every version):
    # [{"name": "id", "type": "integer", "required": true, "min": 0, "max": 9,
    #   "allowed": ["a", "b"], "pattern": "^[A-Z]{2}$"}]
    declared_schema = models.JSONField(_("declared schema"), default=list, blank=True)
    key_columns = models.JSONField(_("key columns"), default=list, blank=True)
    # The publisher's own checks (data/services/quality/checks.py, CHECK_KINDS).
    checks = models.JSONField(_("quality checks"), default=list, blank=True)
    metadata_score = models.PositiveSmallIntegerField(null=True, blank=True)
    metadata_reasons = models.JSONField(default=list, blank=True)
    # Harvested datasets: where they came from; gone_at is set when the source no longer lists them.
    source = models.ForeignKey(
        HarvestSource,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="datasets",
    )
    source_hash = models.CharField(max_length=64, blank=True)
    gone_at = models.DateTimeField(null=True, blank=True)
    # Harvested datasets keep their files at the source: [{"uri", "title", "access_url",
    # "download_url", "media_type", "format", "licence", "byte_size"}] (re-exported as DCAT-AP).
    harvested_distributions = models.JSONField(default=list, blank=True)
    issued_at = models.DateTimeField(_("published on"), null=True, blank=True)
    is_demo = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("dataset")
        constraints = [
            models.UniqueConstraint(
                fields=["source", "identifier"],
                name="dataset_identifier_once_per_source",
            ),
            models.UniqueConstraint(
                fields=["identifier"],
                condition=models.Q(source__isnull=True),
                name="dataset_identifier_once_here",
            ),
        ]

    def __str__(self) -> str:
        return self.slug

    def text(self, field: str, language: str = "en") -> str:
        values = getattr(self, field) or {}
        return values.get(language) or values.get("en") or next(iter(values.values()), "")

    @property
    def is_listed(self) -> bool:
        """``LISTED``, for one dataset in hand."""
        return (
            self.status == DatasetStatus.PUBLISHED and self.access_rights != AccessRights.INTERNAL
        )

    def newest_ready_version(self) -> "DatasetVersion | None":
        """The version readers get by default; from ``with_newest_ready_version()`` when the
        queryset loaded it."""
        ready = getattr(self, "ready_versions", None)
        if ready is not None:
            return ready[0] if ready else None
        if self._state.adding:
            return None
        return self.versions.ready().order_by("-number").first()


class VersionStatus(models.TextChoices):
    FETCHING = "fetching", _("fetching")  # a version by reference, until its files are in
    READY = "ready", _("ready")
    FAILED = "failed", _("failed")


class ProfileStatus(models.TextChoices):
    NONE = "", _("not profiled")  # not a tabular file
    PENDING = "pending", _("waiting")
    DONE = "done", _("done")
    FAILED = "failed", _("failed")


class VersionQuerySet(models.QuerySet):
    def ready(self):
        return self.filter(status=VersionStatus.READY)


class DatasetVersion(BaseModel):
    objects = VersionQuerySet.as_manager()

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(_("version"))
    note = models.TextField(_("what changed"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=20, choices=VersionStatus.choices)
    # Versions by reference: the URLs to fetch ([{"url": ..., "name": ...}]).
    references = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    quality_score = models.PositiveSmallIntegerField(null=True, blank=True)
    # [{"check": "completeness", "column": "x", "passed": false, "score": 80, "message": "..."}]
    quality_results = models.JSONField(default=list, blank=True)
    quality_checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["dataset", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "number"], name="version_number_once")
        ]

    def __str__(self) -> str:
        return f"{self.dataset_id} v{self.number}"


class Distribution(BaseModel):
    """One file of a version."""

    version = models.ForeignKey(
        DatasetVersion, on_delete=models.CASCADE, related_name="distributions"
    )
    name = models.CharField(_("file name"), max_length=255)  # made safe by the service
    media_type = models.CharField(_("media type"), max_length=100)
    format = models.CharField(
        _("format"), max_length=20
    )  # csv, tsv, parquet, jsonl, json, xlsx, other
    size = models.BigIntegerField(_("size (bytes)"))
    sha256 = models.CharField(max_length=64)
    storage_key = models.CharField(max_length=300, unique=True)
    source_url = models.URLField(max_length=1000, blank=True)
    # How the file was read: {"encoding": "cp1252", "delimiter": ";", "header": true, "sheet": ...}
    dialect = models.JSONField(default=dict, blank=True)
    # Tabular files are also kept as Parquet (made when profiled): previews and SQL read that copy.
    parquet_key = models.CharField(max_length=300, blank=True)
    # [{"name": "id", "type": "BIGINT"}] for tabular files
    schema = models.JSONField(default=list, blank=True)
    row_count = models.BigIntegerField(null=True, blank=True)
    # Per column: {"name", "type", "nulls", "distinct", "distinct_approx", "min", "max", "mean",
    # "quantiles": {"p25", "p50", "p75"}, "top": [[value, count]], "patterns": {"email": n, ...}}
    profile = models.JSONField(default=dict, blank=True)
    profile_status = models.CharField(
        max_length=20, choices=ProfileStatus.choices, default="", blank=True
    )
    profile_error = models.TextField(blank=True)
    profiled_at = models.DateTimeField(null=True, blank=True)
    warnings = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["version", "name"]
        constraints = [
            models.UniqueConstraint(fields=["version", "name"], name="distribution_name_once")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_tabular(self) -> bool:
        return self.format in ("csv", "tsv", "parquet", "jsonl", "json", "xlsx")


class UploadStatus(models.TextChoices):
    OPEN = "open", pgettext_lazy("upload", "open")
    COMPLETE = "complete", pgettext_lazy("upload", "complete")
    USED = "used", pgettext_lazy("upload", "used")
    ABORTED = "aborted", pgettext_lazy("upload", "aborted")


class Upload(BaseModel):
    """A resumable upload in progress: bytes arrive in chunks at ``offset`` into a temporary
    object; the version is made only from complete uploads whose digest matches."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="uploads")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    name = models.CharField(max_length=255)
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64, blank=True)  # as the client announced it, if it did
    received = models.BigIntegerField(default=0)
    status = models.CharField(
        max_length=20, choices=UploadStatus.choices, default=UploadStatus.OPEN
    )
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]


class RequestStatus(models.TextChoices):
    PENDING = "pending", _("waiting for the publisher")
    APPROVED = "approved", _("approved")
    REFUSED = "refused", _("refused")
    WITHDRAWN = "withdrawn", _("withdrawn")


class LegalBasis(models.TextChoices):
    """GDPR Article 6(1), asked for where the dataset holds personal data."""

    NONE = "", _("none (no personal data)")
    CONSENT = "consent", _("consent (6(1)(a))")
    CONTRACT = "contract", _("contract (6(1)(b))")
    LEGAL_OBLIGATION = "legal_obligation", _("legal obligation (6(1)(c))")
    VITAL_INTERESTS = "vital_interests", _("vital interests (6(1)(d))")
    PUBLIC_TASK = "public_task", _("public task (6(1)(e))")
    LEGITIMATE_INTERESTS = "legitimate_interests", _("legitimate interests (6(1)(f))")


class AccessRequest(BaseModel):
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="requests")
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="data_requests"
    )
    # The organisation the access is for (the requester is a member).
    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.CASCADE, related_name="data_requests"
    )
    # The compute project code or the name of the work the data is for (data does not import
    # access, see DESIGN.md).
    project = models.CharField(_("project"), max_length=200)
    purpose = models.TextField(_("purpose"))
    duration_days = models.PositiveIntegerField(_("for how many days"))
    legal_basis = models.CharField(
        _("legal basis"), max_length=30, choices=LegalBasis.choices, blank=True
    )
    # The data-use conditions as they read when accepted.
    conditions_accepted = models.TextField(blank=True)
    status = models.CharField(
        max_length=20, choices=RequestStatus.choices, default=RequestStatus.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(_("reason"), blank=True)

    class Meta:
        ordering = ["-created_at"]


class GrantQuerySet(models.QuerySet):
    def live(self):
        """Grants that allow reading now: not revoked and not expired (see ``Grant.is_live``)."""
        return self.filter(revoked_at__isnull=True, expires_at__gt=timezone.now())


class Grant(BaseModel):
    """Read access to a restricted dataset for an organisation's members, until it expires."""

    objects = GrantQuerySet.as_manager()

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="grants")
    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.CASCADE, related_name="data_grants"
    )
    request = models.OneToOneField(
        AccessRequest, null=True, blank=True, on_delete=models.SET_NULL, related_name="grant"
    )
    conditions = models.TextField(_("conditions"), blank=True)
    expires_at = models.DateTimeField(_("expires"))
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoke_reason = models.TextField(_("reason"), blank=True)
    # When grants_expire_due recorded the expiry (reads stop at expires_at regardless).
    expiry_recorded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    @property
    def is_live(self) -> bool:
        """As ``Grant.objects.live()``, for one grant in hand."""
        return self.revoked_at is None and self.expires_at > timezone.now()


class AccessAction(models.TextChoices):
    DOWNLOAD = "download", _("download")
    PREVIEW = "preview", _("preview")
    QUERY = "query", _("query")
    JOB = "job", _("job")


class AccessLogEntry(models.Model):
    """Append-only: every read of a dataset's data, for its publisher."""

    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="access_log")
    version = models.ForeignKey(
        DatasetVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    user_repr = models.CharField(max_length=254, blank=True)
    organisation = models.ForeignKey(
        "accounts.Organisation",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    grant = models.ForeignKey(
        Grant, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=20, choices=AccessAction.choices)
    # What was read: a file name, the SQL text, a job id.
    detail = models.CharField(max_length=2000, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.user_repr} {self.action} {self.dataset_id}"
