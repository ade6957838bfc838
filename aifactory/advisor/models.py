from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from aifactory.core.models import BaseModel
from aifactory.core.taxonomy import JourneyStage


class CaseStatus(models.TextChoices):
    NEW = "new", pgettext_lazy("case", "new")
    TRIAGED = "triaged", pgettext_lazy("case", "triaged")
    IN_PROGRESS = "in_progress", pgettext_lazy("case", "in progress")
    WAITING_FOR_CUSTOMER = "waiting_for_customer", pgettext_lazy("case", "waiting for you")
    CLOSED = "closed", pgettext_lazy("case", "closed")


class CloseReason(models.TextChoices):
    NONE = "", _("not closed")
    RESOLVED = "resolved", _("answered")
    REFERRED = "referred", _("referred to a provider")
    NO_RESPONSE = "no_response", _("no reply from the customer")
    DUPLICATE = "duplicate", _("duplicate")
    WITHDRAWN = "withdrawn", _("withdrawn by the customer")


class Case(BaseModel):
    """A request for help from an organisation, followed by an advisor of the factory.

    ``matchmaking`` keeps the text the person wrote and the results they saw when they opened the
    case, so the advisor starts from the same page.
    """

    reference = models.CharField(_("reference"), max_length=20, unique=True)
    organisation = models.ForeignKey(
        "accounts.Organisation",
        on_delete=models.PROTECT,
        related_name="cases",
        verbose_name=_("organisation"),
    )
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="cases_opened",
        verbose_name=_("opened by"),
    )
    subject = models.CharField(_("subject"), max_length=200)
    need = models.TextField(_("need"))
    language = models.CharField(_("language"), max_length=8, blank=True)
    sector = models.CharField(_("sector"), max_length=40, blank=True)
    stage = models.CharField(
        _("journey stage"),
        max_length=20,
        choices=JourneyStage.choices,
        default=JourneyStage.DISCOVER,
    )
    status = models.CharField(
        _("status"),
        max_length=30,
        choices=CaseStatus.choices,
        default=CaseStatus.NEW,
        db_index=True,
    )
    close_reason = models.CharField(
        _("reason for closing"), max_length=20, choices=CloseReason.choices, blank=True
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="cases_assigned",
        verbose_name=_("advisor"),
    )
    first_response_due = models.DateTimeField(_("first answer due"))
    first_response_at = models.DateTimeField(_("first answered"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    matchmaking = models.JSONField(default=dict, blank=True)
    offerings = models.ManyToManyField(
        "catalog.Offering", blank=True, related_name="cases", verbose_name=_("linked offerings")
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("support case")

    def __str__(self) -> str:
        return f"{self.reference}: {self.subject}"


class EntryKind(models.TextChoices):
    MESSAGE = "message", _("message")
    NOTE = "note", _("note")
    EVENT = "event", _("event")


class Visibility(models.TextChoices):
    SHARED = "shared", _("shared with the customer")
    INTERNAL = "internal", _("internal to the factory")


class CaseEntry(BaseModel):
    """One line of a case's timeline: a message, a note, or a recorded event (status, assignment,
    linked offering). Internal entries are never shown to the customer."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="entries")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=20, choices=EntryKind.choices)
    visibility = models.CharField(
        max_length=20, choices=Visibility.choices, default=Visibility.SHARED
    )
    body = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["created_at"]
        verbose_name = _("case entry")

    def __str__(self) -> str:
        return f"{self.case_id} {self.kind}"


class AssessmentStatus(models.TextChoices):
    DRAFT = "draft", pgettext_lazy("assessment", "in progress")
    COMPLETED = "completed", pgettext_lazy("assessment", "completed")


class Assessment(BaseModel):
    """An organisation's answers to the readiness questionnaire and what was computed from them.

    ``answers`` is {question id: option value}; ``result`` holds the levels per dimension, the
    overall level and the action plan as they were when the assessment was completed, so a later
    change to the questionnaire or the catalogue does not rewrite history.
    """

    organisation = models.ForeignKey(
        "accounts.Organisation",
        on_delete=models.CASCADE,
        related_name="assessments",
        verbose_name=_("organisation"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("filled in by"),
    )
    language = models.CharField(_("language"), max_length=8, blank=True)
    version = models.PositiveIntegerField(default=1)
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=AssessmentStatus.choices,
        default=AssessmentStatus.DRAFT,
    )
    answers = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    overall_level = models.PositiveSmallIntegerField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("readiness assessment")

    def __str__(self) -> str:
        return f"{self.organisation_id} {self.created_at:%Y-%m-%d}"
