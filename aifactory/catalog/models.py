from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from aifactory.core.language import TEXT_LANGUAGES
from aifactory.core.models import BaseModel

from .embeddings import from_bytes


class OfferingType(models.TextChoices):
    SOLUTION = "solution", _("Solution")
    SERVICE = "service", _("Service")
    PROVIDER = "provider", _("Provider")
    COURSE = "course", _("Course")
    FUNDING = "funding", _("Funding")
    DATASET = "dataset", _("Dataset")
    MODEL = "model", _("Model")


class OfferingStatus(models.TextChoices):
    DRAFT = "draft", pgettext_lazy("offering", "draft")
    IN_REVIEW = "in_review", pgettext_lazy("offering", "in review")
    PUBLISHED = "published", pgettext_lazy("offering", "published")
    ARCHIVED = "archived", pgettext_lazy("offering", "archived")


class Deployment(models.TextChoices):
    EU_SAAS = "eu-saas", _("EU SaaS")
    ON_PREMISES = "on-premises", _("On premises")
    SOVEREIGN_CLOUD = "sovereign-cloud", _("Sovereign cloud")
    SUPERCOMPUTER = "supercomputer", _("On the factory's supercomputer")


class AiActRisk(models.TextChoices):
    UNKNOWN = "", _("not stated")
    MINIMAL = "minimal", _("minimal risk")
    LIMITED = "limited", _("limited risk")
    HIGH = "high", _("high risk")
    UNACCEPTABLE = "unacceptable", _("unacceptable risk")
    NOT_APPLICABLE = "not-applicable", _("not an AI system")


class Offering(BaseModel):
    """A listing in the catalogue. Texts are {language: text} for en, de, fr, lb.

    ``search_text`` and ``content_hash`` are derived by the services on every save: the lexical
    index reads the first, and the embedding index recomputes a vector only when the second changes.
    """

    external_id = models.CharField(_("external id"), max_length=100, unique=True)
    type = models.CharField(_("type"), max_length=20, choices=OfferingType.choices)
    title = models.JSONField(_("title"), default=dict)
    description = models.JSONField(_("description"), default=dict)
    sectors = models.JSONField(_("sectors"), default=list, blank=True)
    tags = models.JSONField(_("tags"), default=list, blank=True)
    languages = models.JSONField(_("languages"), default=list, blank=True)
    stages = models.JSONField(_("journey stages"), default=list, blank=True)
    provider_name = models.CharField(_("provider"), max_length=200)
    provider_organisation = models.ForeignKey(
        "accounts.Organisation",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="offerings",
        verbose_name=_("provider organisation"),
    )
    url = models.URLField(_("web address"), max_length=500, blank=True)
    price = models.CharField(_("price"), max_length=200, blank=True)
    deployment = models.JSONField(_("deployment"), default=list, blank=True)
    ai_act_risk = models.CharField(
        _("AI Act risk"), max_length=20, choices=AiActRisk.choices, blank=True, default=""
    )
    ai_act_note = models.CharField(_("AI Act note"), max_length=500, blank=True)
    for_kinds = models.JSONField(_("for kinds of organisation"), default=list, blank=True)
    for_sizes = models.JSONField(_("for size classes"), default=list, blank=True)
    eligible_countries = models.JSONField(_("eligible countries"), default=list, blank=True)
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=OfferingStatus.choices,
        default=OfferingStatus.DRAFT,
        db_index=True,
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("reviewed by"),
    )
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    review_note = models.TextField(_("review note"), blank=True)
    is_demo = models.BooleanField(default=False)
    search_text = models.TextField(blank=True, editable=False)
    content_hash = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["external_id"]
        verbose_name = _("offering")
        indexes = [
            models.Index(fields=["status", "type"], name="offering_status_type"),
            # the search index of each process asks for what changed since it last looked
            models.Index(fields=["updated_at"], name="offering_updated"),
        ]

    def __str__(self) -> str:
        return f"{self.external_id}: {self.display_title}"

    @property
    def display_title(self) -> str:
        return self.text("title")

    def text(self, field: str, language: str | None = None) -> str:
        """The text in the language asked for, else in the first one the offering has."""
        values = getattr(self, field) or {}
        if language and values.get(language):
            return values[language]
        for lang in TEXT_LANGUAGES:
            if values.get(lang):
                return values[lang]
        return ""


class OfferingEmbedding(models.Model):
    """The stored vector of an offering's texts, with what it was computed from, so a changed
    text or a changed model is seen as stale and recomputed."""

    offering = models.OneToOneField(
        Offering, primary_key=True, on_delete=models.CASCADE, related_name="embedding"
    )
    model = models.CharField(max_length=100)
    content_hash = models.CharField(max_length=64)
    dim = models.PositiveIntegerField()
    vector = models.BinaryField()  # float32, little-endian
    computed_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.offering_id} ({self.model})"

    def array(self):
        return from_bytes(self.vector)
