"""The shared sector taxonomy, used by organisations now and by offerings and datasets later."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Sector(models.TextChoices):
    FINANCE = "finance", _("Finance")
    CYBERSECURITY = "cybersecurity", _("Cybersecurity")
    SPACE = "space", _("Space")
    SUSTAINABILITY = "sustainability", _("Sustainability")
    MANUFACTURING = "manufacturing", _("Manufacturing")
    CRAFTS = "crafts", _("Crafts")
    CONSTRUCTION = "construction", _("Construction")
    HEALTH = "health", _("Health")
    PUBLIC_SECTOR = "public-sector", _("Public sector")
    RETAIL = "retail", _("Retail")
    LOGISTICS = "logistics", _("Logistics")
    AGRICULTURE = "agriculture", _("Agriculture")
    ENERGY = "energy", _("Energy")
    TOURISM = "tourism", _("Tourism")
    EDUCATION = "education", _("Education")
    MEDIA = "media", _("Media")
    LEGAL = "legal", _("Legal")
    RESEARCH = "research", _("Research")
    GENERAL = "general", _("General")


class OrganisationKind(models.TextChoices):
    STARTUP = "startup", _("Start-up")
    SME = "sme", _("SME")
    LARGE = "large", _("Large company")
    RESEARCH = "research", _("Research organisation")
    PUBLIC = "public", _("Public body")


class SizeClass(models.TextChoices):
    MICRO = "micro", _("Micro")
    SMALL = "small", _("Small")
    MEDIUM = "medium", _("Medium-sized")
    LARGE = "large", _("Large")
    UNKNOWN = "unknown", _("Unknown")


# EU Recommendation 2003/361/EC: (staff below, turnover at most, balance sheet at most) in euros.
SME_THRESHOLDS = [
    (SizeClass.MICRO, 10, 2_000_000, 2_000_000),
    (SizeClass.SMALL, 50, 10_000_000, 10_000_000),
    (SizeClass.MEDIUM, 250, 50_000_000, 43_000_000),
]


def sme_size_class(headcount: int | None, turnover: int | None, balance_sheet: int | None) -> str:
    """Staff must be under the ceiling and either turnover or balance sheet within its ceiling.

    A missing figure never earns a smaller class, but one figure is enough to say "large": 250 staff
    or more, or both financial figures above the medium ceilings.
    """
    _size, staff_below, turnover_max, balance_max = SME_THRESHOLDS[-1]
    if headcount is not None and headcount >= staff_below:
        return SizeClass.LARGE
    if (turnover or 0) > turnover_max and (balance_sheet or 0) > balance_max:
        return SizeClass.LARGE
    if headcount is None or (turnover is None and balance_sheet is None):
        return SizeClass.UNKNOWN
    for size, staff_below, turnover_max, balance_max in SME_THRESHOLDS:
        money_ok = (turnover is not None and turnover <= turnover_max) or (
            balance_sheet is not None and balance_sheet <= balance_max
        )
        if headcount < staff_below and money_ok:
            return size
    return SizeClass.LARGE


class JourneyStage(models.TextChoices):
    """Where an organisation stands on its way to AI; offerings and support cases use it."""

    DISCOVER = "discover", _("Discover")
    ASSESS = "assess", _("Assess")
    UPSKILL = "upskill", _("Upskill")
    CONNECT = "connect", _("Connect")
    FUND = "fund", _("Fund")
    BUILD = "build", _("Build")
    SCALE = "scale", _("Scale")
