import hashlib
import secrets
import uuid
from datetime import timedelta

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField

from aifactory.core.models import BaseModel
from aifactory.core.roles import OrgRole, StaffRole
from aifactory.core.taxonomy import OrganisationKind, SizeClass


class PersonManager(UserManager):
    def get_by_natural_key(self, username):
        return self.get(email__iexact=username)

    def _create_user(self, username, email, password, **extra):
        email = self.normalize_email(email or username).lower()
        user = self.model(username=email, email=email, **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email=None, password=None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, email, password, **extra)

    def create_superuser(self, email=None, password=None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        extra.setdefault("staff_role", StaffRole.ADMINISTRATOR)
        extra.setdefault("email_verified", True)
        return self._create_user(email, email, password, **extra)


class User(AbstractUser):
    """A person. Signs in with the e-mail address; ``username`` mirrors it for Django's admin."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(_("e-mail address"), unique=True)
    email_verified = models.BooleanField(default=False)
    verification_sent_at = models.DateTimeField(null=True, blank=True)
    staff_role = models.CharField(max_length=20, choices=StaffRole.choices, blank=True, default="")
    preferred_language = models.CharField(max_length=8, blank=True, default="")
    is_demo = models.BooleanField(default=False)

    objects = PersonManager()

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.email


class Organisation(BaseModel):
    legal_name = models.CharField(_("legal name"), max_length=200)
    country = CountryField(_("country"))
    registration_number = models.CharField(_("registration number"), max_length=40, blank=True)
    vat_number = models.CharField(_("VAT number"), max_length=20, blank=True)
    kind = models.CharField(_("kind"), max_length=20, choices=OrganisationKind.choices)
    sectors = models.JSONField(_("sectors"), default=list, blank=True)
    staff_headcount = models.PositiveIntegerField(_("staff headcount"), null=True, blank=True)
    annual_turnover_eur = models.PositiveBigIntegerField(
        _("annual turnover (EUR)"), null=True, blank=True
    )
    balance_sheet_eur = models.PositiveBigIntegerField(
        _("balance sheet total (EUR)"), null=True, blank=True
    )
    size_class = models.CharField(
        _("EU size class"), max_length=10, choices=SizeClass.choices, default=SizeClass.UNKNOWN
    )
    website = models.URLField(_("website"), max_length=300, blank=True)
    street = models.CharField(_("street and number"), max_length=200, blank=True)
    postcode = models.CharField(_("postcode"), max_length=20, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    is_demo = models.BooleanField(default=False)

    class Meta:
        ordering = ["legal_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["country", "registration_number"],
                condition=~models.Q(registration_number=""),
                name="organisation_unique_registration",
            ),
            models.UniqueConstraint(
                fields=["vat_number"],
                condition=~models.Q(vat_number=""),
                name="organisation_unique_vat",
            ),
        ]

    def __str__(self) -> str:
        return self.legal_name


class Membership(BaseModel):
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="memberships"
    )
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=OrgRole.choices, default=OrgRole.MEMBER)

    class Meta:
        ordering = ["organisation__legal_name", "user__email"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "user"], name="membership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.organisation} ({self.role})"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class InvitationStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    ACCEPTED = "accepted", _("accepted")
    REVOKED = "revoked", _("revoked")


class Invitation(BaseModel):
    """An invitation by e-mail; only the hash of its token is stored."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="invitations"
    )
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=OrgRole.choices, default=OrgRole.MEMBER)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(
        max_length=10, choices=InvitationStatus.choices, default=InvitationStatus.PENDING
    )
    expires_at = models.DateTimeField()
    accepted_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.email} → {self.organisation}"

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    @property
    def display_status(self) -> str:
        if self.status == InvitationStatus.PENDING and self.is_expired:
            return "expired"
        return self.status


class ApiToken(BaseModel):
    """A personal API token. The secret is shown once; we keep its SHA-256 and a short prefix."""

    PREFIX = "afh_"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16)
    token_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def generate(cls) -> str:
        return cls.PREFIX + secrets.token_urlsafe(32)

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and (
            self.expires_at is None or self.expires_at > timezone.now()
        )


class TermsAcceptance(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="terms_acceptances")
    version = models.CharField(max_length=20)
    accepted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-accepted_at"]
        constraints = [
            models.UniqueConstraint(fields=["user", "version"], name="terms_once_per_version")
        ]

    def __str__(self) -> str:
        return f"{self.user} accepted {self.version}"


class LoginFailure(models.Model):
    """Failed sign-ins, counted per e-mail and per client address for the rate limit."""

    email = models.CharField(max_length=254, db_index=True)
    ip_address = models.CharField(max_length=45, db_index=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"{self.email} {self.created_at:%Y-%m-%d %H:%M}"

    @classmethod
    def recent(cls, seconds: int):
        return cls.objects.filter(created_at__gte=timezone.now() - timedelta(seconds=seconds))
