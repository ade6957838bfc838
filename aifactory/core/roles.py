from django.db import models
from django.utils.translation import gettext_lazy as _


class StaffRole(models.TextChoices):
    """Roles of the factory's own people; a person outside the factory has none."""

    NONE = "", _("none")
    ADVISOR = "advisor", _("advisor")
    REVIEWER = "reviewer", _("reviewer")
    OPERATOR = "operator", _("operator")
    ADMINISTRATOR = "administrator", _("administrator")


class OrgRole(models.TextChoices):
    OWNER = "owner", _("owner")
    MANAGER = "manager", _("manager")
    MEMBER = "member", _("member")
