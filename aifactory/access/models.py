"""Compute access: modes and capacity pools, calls, applications and their review, decisions,
projects and allocations with monthly tranches, change requests and external allocations.

Resources are kept as {resource: amount} objects with the keys of ``Resource``, so a mode's limits,
a request, a grant and a tranche read the same way.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from aifactory.core.models import BaseModel


class Resource(models.TextChoices):
    GPU_HOURS = "gpu_hours", _("GPU hours")
    CPU_CORE_HOURS = "cpu_core_hours", _("CPU core hours")
    STORAGE_TB = "storage_tb", _("storage (TB)")


class ReviewKind(models.TextChoices):
    TECHNICAL = "technical", _("technical assessment")
    PEER = "peer", _("peer review")


class ClockStart(models.TextChoices):
    SUBMISSION = "submission", _("from submission")
    CUTOFF = "cutoff", _("from the cut-off date")


class TranchePolicy(models.TextChoices):
    NONE = "none", _("one period, no tranches")
    MONTHLY_EXPIRE = "monthly_expire", _("monthly tranches; unused hours expire")
    MONTHLY_CARRY = "monthly_carry", _("monthly tranches; unused hours carry over")


class CapacityPool(BaseModel):
    """A share of the machine for one period (for example 50% EuroHPC, 50% national).

    ``capacity`` is what the share holds in the period; what granted allocations commit is
    computed from them, so it cannot drift."""

    code = models.SlugField(_("code"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=200)
    share_percent = models.DecimalField(
        _("share of the machine (%)"), max_digits=5, decimal_places=2
    )
    capacity = models.JSONField(_("capacity"), default=dict)
    period_start = models.DateField(_("period start"))
    period_end = models.DateField(_("period end"))
    is_demo = models.BooleanField(default=False)

    class Meta:
        ordering = ["code"]
        verbose_name = _("capacity pool")

    def __str__(self) -> str:
        return self.name


class AccessMode(BaseModel):
    """An access mode as operators publish it: data, not code."""

    code = models.SlugField(_("code"), max_length=50, unique=True)
    name = models.JSONField(_("name"), default=dict)  # {language: text}
    description = models.JSONField(_("description"), default=dict)
    pool = models.ForeignKey(
        CapacityPool, on_delete=models.PROTECT, related_name="modes", verbose_name=_("pool")
    )
    limits = models.JSONField(_("limits"), default=dict)  # {resource: {"min": n, "max": n}}
    durations_months = models.JSONField(_("allowed durations (months)"), default=list)
    has_cutoffs = models.BooleanField(_("has cut-off dates"), default=False)
    first_come = models.BooleanField(_("first come, first served"), default=False)
    reviews = models.JSONField(_("reviews needed"), default=list)  # ReviewKind values, in order
    for_kinds = models.JSONField(_("for kinds of organisation"), default=list, blank=True)
    for_sizes = models.JSONField(_("for size classes"), default=list, blank=True)
    eligible_countries = models.JSONField(_("eligible countries"), default=list, blank=True)
    decision_days = models.PositiveSmallIntegerField(_("decision target (working days)"))
    clock_starts = models.CharField(
        _("the clock starts"),
        max_length=20,
        choices=ClockStart.choices,
        default=ClockStart.SUBMISSION,
    )
    tranche_policy = models.CharField(
        _("tranches"), max_length=20, choices=TranchePolicy.choices, default=TranchePolicy.NONE
    )
    is_active = models.BooleanField(_("active"), default=True)
    is_demo = models.BooleanField(default=False)

    class Meta:
        ordering = ["code"]
        verbose_name = _("access mode")

    def __str__(self) -> str:
        return self.code


class CallStatus(models.TextChoices):
    DRAFT = "draft", pgettext_lazy("call", "draft")
    OPEN = "open", pgettext_lazy("call", "open")
    CLOSED = "closed", pgettext_lazy("call", "closed")


class Call(BaseModel):
    """Open continuously (no ``closes_at``) or until a date, with cut-off dates where the mode
    has them: the applications submitted before a cut-off are ranked and decided together."""

    code = models.SlugField(_("code"), max_length=50, unique=True)
    mode = models.ForeignKey(
        AccessMode, on_delete=models.PROTECT, related_name="calls", verbose_name=_("access mode")
    )
    title = models.JSONField(_("title"), default=dict)
    description = models.JSONField(_("description"), default=dict, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=CallStatus.choices, default=CallStatus.DRAFT
    )
    opens_at = models.DateTimeField(_("opens"))
    closes_at = models.DateTimeField(_("closes"), null=True, blank=True)
    cutoffs = models.JSONField(_("cut-off dates"), default=list, blank=True)  # ISO dates
    is_demo = models.BooleanField(default=False)

    class Meta:
        ordering = ["-opens_at"]
        verbose_name = _("call")

    def __str__(self) -> str:
        return self.code


class ApplicationStatus(models.TextChoices):
    DRAFT = "draft", pgettext_lazy("application", "draft")
    SUBMITTED = "submitted", pgettext_lazy("application", "submitted")
    ELIGIBILITY_CHECK = "eligibility_check", pgettext_lazy("application", "eligibility check")
    TECHNICAL_REVIEW = "technical_review", pgettext_lazy("application", "technical review")
    PEER_REVIEW = "peer_review", pgettext_lazy("application", "peer review")
    REVISION_REQUESTED = "revision_requested", pgettext_lazy("application", "revision requested")
    DECIDED = "decided", pgettext_lazy("application", "decided")
    WITHDRAWN = "withdrawn", pgettext_lazy("application", "withdrawn")


class Outcome(models.TextChoices):
    NONE = "", _("not decided")
    ACCEPTED = "accepted", _("accepted")
    ACCEPTED_REDUCED = "accepted_reduced", _("accepted with reduced resources")
    REJECTED = "rejected", _("rejected")


class Application(BaseModel):
    reference = models.CharField(_("reference"), max_length=20, unique=True)
    call = models.ForeignKey(
        Call, on_delete=models.PROTECT, related_name="applications", verbose_name=_("call")
    )
    organisation = models.ForeignKey(
        "accounts.Organisation",
        on_delete=models.PROTECT,
        related_name="applications",
        verbose_name=_("organisation"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    title = models.CharField(_("title"), max_length=200, blank=True)
    abstract = models.TextField(_("abstract"), blank=True)
    objectives = models.TextField(_("objectives and expected impact"), blank=True)
    sector = models.CharField(_("sector"), max_length=40, blank=True)
    ai_act_risk = models.CharField(_("AI Act risk category"), max_length=20, blank=True)
    ai_act_reasons = models.TextField(_("AI Act reasons"), blank=True)
    model_type = models.CharField(_("model type"), max_length=200, blank=True)
    model_size = models.CharField(_("model size"), max_length=100, blank=True)
    datasets = models.TextField(_("datasets to be used"), blank=True)
    personal_data = models.BooleanField(_("personal data involved"), default=False)
    legal_basis = models.TextField(_("legal basis"), blank=True)
    requested = models.JSONField(_("resources requested"), default=dict, blank=True)
    duration_months = models.PositiveSmallIntegerField(
        _("duration (months)"), null=True, blank=True
    )
    start_date = models.DateField(_("start date"), null=True, blank=True)
    system = models.CharField(_("target system / partition"), max_length=100, blank=True)
    justification = models.TextField(_("justification"), blank=True)
    ethics_note = models.TextField(_("ethics and safety"), blank=True)
    status = models.CharField(
        _("status"),
        max_length=30,
        choices=ApplicationStatus.choices,
        default=ApplicationStatus.DRAFT,
        db_index=True,
    )
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices, blank=True)
    # {"ok": bool, "reasons": [...], "override": {"ok": bool, "reason": str, "by": id, "at": iso}}
    eligibility = models.JSONField(_("eligibility"), default=dict, blank=True)
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    cutoff = models.DateField(_("cut-off"), null=True, blank=True)
    clock_started_at = models.DateTimeField(_("clock started"), null=True, blank=True)
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("application")

    def __str__(self) -> str:
        return f"{self.reference}: {self.title}"


class MemberRole(models.TextChoices):
    PI = "pi", _("principal investigator")
    MANAGER = "manager", _("manager")
    MEMBER = "member", _("member")


class ApplicationMember(BaseModel):
    """The principal investigator and the team named in an application; a person on the hub or
    only a name and an address (they get an account when the project starts)."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    name = models.CharField(_("name"), max_length=200)
    email = models.EmailField(_("e-mail address"))
    role = models.CharField(_("role"), max_length=20, choices=MemberRole.choices)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["application", "email"], name="application_member_once")
        ]

    def __str__(self) -> str:
        return f"{self.email} ({self.role})"


class Attachment(BaseModel):
    """Justification and benchmark evidence: PDF only, size-limited, stored under the data folder."""

    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="attachments"
    )
    file = models.FileField(upload_to="access/attachments/%Y/%m/")
    name = models.CharField(_("file name"), max_length=200)
    size = models.PositiveBigIntegerField(_("size"))
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return self.name


class ApplicationEvent(BaseModel):
    """The application's history: every transition with who and why. The service-time clock is
    computed from it (it pauses while a revision is requested)."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_status = models.CharField(max_length=30, blank=True)
    to_status = models.CharField(max_length=30)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.application_id} {self.from_status}->{self.to_status}"


class ReviewStatus(models.TextChoices):
    ASSIGNED = "assigned", pgettext_lazy("review", "assigned")
    CONFLICT = "conflict", pgettext_lazy("review", "declined: conflict of interest")
    SUBMITTED = "submitted", pgettext_lazy("review", "submitted")
    # Set by the hub: the application was withdrawn or decided before this review was written,
    # or it was resubmitted after a revision, which starts a new round of reviews.
    CLOSED = "closed", pgettext_lazy("review", "closed: no longer needed")


class Review(BaseModel):
    """A technical assessment (by an operator) or a peer review (by an assigned reviewer).

    Peer scores are 1-5 for excellence, impact and feasibility; a reviewer sees the others' only
    after submitting their own."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="reviews")
    kind = models.CharField(max_length=20, choices=ReviewKind.choices)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="access_reviews"
    )
    status = models.CharField(
        max_length=20, choices=ReviewStatus.choices, default=ReviewStatus.ASSIGNED
    )
    conflict_declared = models.BooleanField(null=True, blank=True)  # None: not declared yet
    conflict_note = models.TextField(blank=True)
    scores = models.JSONField(default=dict, blank=True)  # {"excellence": 1-5, ...}
    assessment = models.JSONField(default=dict, blank=True)  # technical: feasibility, software...
    comments = models.TextField(blank=True)
    recommendation = models.CharField(max_length=20, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["application", "kind", "reviewer"], name="review_once_per_reviewer"
            )
        ]

    def __str__(self) -> str:
        return f"{self.application_id} {self.kind} {self.reviewer_id}"


class Decision(BaseModel):
    application = models.OneToOneField(
        Application, on_delete=models.CASCADE, related_name="decision"
    )
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    granted = models.JSONField(default=dict, blank=True)
    reason = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"{self.application_id} {self.outcome}"


class ProjectStatus(models.TextChoices):
    ACTIVE = "active", pgettext_lazy("project", "active")
    CLOSED = "closed", pgettext_lazy("project", "closed")


class Project(BaseModel):
    code = models.SlugField(_("code"), max_length=60, unique=True)
    title = models.CharField(_("title"), max_length=200)
    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, related_name="projects"
    )
    application = models.OneToOneField(
        Application, null=True, blank=True, on_delete=models.SET_NULL, related_name="project"
    )
    status = models.CharField(
        max_length=20, choices=ProjectStatus.choices, default=ProjectStatus.ACTIVE
    )
    # Allocations decided elsewhere (the EuroHPC federation platform) keep where they came from.
    external_source = models.CharField(max_length=100, blank=True)
    external_id = models.CharField(max_length=200, blank=True)
    is_demo = models.BooleanField(default=False)

    class Meta:
        ordering = ["code"]
        verbose_name = _("project")
        constraints = [
            models.UniqueConstraint(
                fields=["external_source", "external_id"],
                condition=~models.Q(external_id=""),
                name="project_external_once",
            )
        ]

    def __str__(self) -> str:
        return self.code


class ProjectMember(BaseModel):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="project_memberships"
    )
    role = models.CharField(max_length=20, choices=MemberRole.choices)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="project_member_once")
        ]

    def __str__(self) -> str:
        return f"{self.project_id} {self.user_id} {self.role}"


class AllocationStatus(models.TextChoices):
    ACTIVE = "active", pgettext_lazy("allocation", "active")
    ENDED = "ended", pgettext_lazy("allocation", "ended")


class Allocation(BaseModel):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="allocations")
    pool = models.ForeignKey(
        CapacityPool, null=True, blank=True, on_delete=models.PROTECT, related_name="allocations"
    )
    resources = models.JSONField(_("resources"), default=dict)
    start = models.DateField(_("start"))
    end = models.DateField(_("end"))
    tranche_policy = models.CharField(
        max_length=20, choices=TranchePolicy.choices, default=TranchePolicy.NONE
    )
    cluster = models.CharField(_("cluster"), max_length=100, blank=True)
    partition = models.CharField(_("partition"), max_length=100, blank=True)
    slurm_account = models.CharField(_("Slurm account"), max_length=64, blank=True)
    status = models.CharField(
        max_length=20, choices=AllocationStatus.choices, default=AllocationStatus.ACTIVE
    )
    external_id = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["start"]
        verbose_name = _("allocation")

    def __str__(self) -> str:
        return f"{self.project_id} {self.start}..{self.end}"


class Tranche(BaseModel):
    """One month of an allocation: what it holds (its share, plus what carried in)."""

    allocation = models.ForeignKey(Allocation, on_delete=models.CASCADE, related_name="tranches")
    index = models.PositiveSmallIntegerField()
    start = models.DateField()
    end = models.DateField()
    amounts = models.JSONField(default=dict)

    class Meta:
        ordering = ["allocation", "index"]
        constraints = [
            models.UniqueConstraint(fields=["allocation", "index"], name="tranche_index_once")
        ]

    def __str__(self) -> str:
        return f"{self.allocation_id} #{self.index}"


class ChangeKind(models.TextChoices):
    RESOURCES = "resources", _("more resources")
    EXTENSION = "extension", _("extension")
    MEMBERS = "members", _("new members")


class ChangeStatus(models.TextChoices):
    REQUESTED = "requested", pgettext_lazy("change request", "requested")
    APPROVED = "approved", pgettext_lazy("change request", "approved")
    REFUSED = "refused", pgettext_lazy("change request", "refused")


class ChangeRequest(BaseModel):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="change_requests")
    allocation = models.ForeignKey(
        Allocation, null=True, blank=True, on_delete=models.CASCADE, related_name="change_requests"
    )
    kind = models.CharField(max_length=20, choices=ChangeKind.choices)
    details = models.JSONField(default=dict)  # resources: {...}; extension: {"end": iso}; members
    reason = models.TextField()
    status = models.CharField(
        max_length=20, choices=ChangeStatus.choices, default=ChangeStatus.REQUESTED
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("change request")

    def __str__(self) -> str:
        return f"{self.project_id} {self.kind} {self.status}"
