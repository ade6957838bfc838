"""Demo applications in several states and a running project, so every screen of the access app
has something to show after `aifactory seed-demo`. Made through the services; idempotent (an
application or project with the same title is left alone)."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from aifactory.accounts.models import Organisation, User
from aifactory.core.mail import muted

from .models import Application, Call, Project, TranchePolicy
from .services.applications import (
    application_create,
    application_eligibility_decide,
    application_request_revision,
    application_submit,
)
from .services.projects import project_create

OPERATOR = "operator@demo.aifactory.lu"
FOUNDER = "founder@orbital.demo"
ORBITAL = "Demo Orbital Analytics S.A."
PROJECT = "Orbital land-cover models"


def _form(title: str, gpu_hours: int, months: int) -> dict:
    return {
        "title": title,
        "abstract": "Segmentation of Sentinel-2 images into field boundaries for farm advisors.",
        "objectives": "A model that maps field boundaries in Luxembourg each month; open weights.",
        "sector": "space",
        "ai_act_risk": "minimal",
        "ai_act_reasons": "Maps land use; takes no decision about people.",
        "model_type": "U-Net image segmentation",
        "model_size": "30M parameters",
        "datasets": "Copernicus Sentinel-2 L2A tiles over Luxembourg, 2019-2026.",
        "requested": {"gpu_hours": gpu_hours, "cpu_core_hours": 5_000, "storage_tb": 2},
        "duration_months": months,
        "start_date": (timezone.localdate() + timedelta(days=14)).isoformat(),
        "justification": "Benchmarks on 4 A100 GPUs: one epoch of the full set takes 6 hours.",
        "ethics_note": "No personal data; imagery at 10 m resolution.",
    }


# title, requested GPU hours, months, what happens after creation
SCRIPT = (
    ("Field boundaries from Sentinel-2 (draft)", 8_000, 2, "draft"),
    ("Cloud masks for Sentinel-2", 12_000, 2, "eligibility_check"),
    ("Crop types from Sentinel-2 time series", 30_000, 3, "technical_review"),
    ("Flood extent from radar images", 40_000, 3, "revision_requested"),
)


def load_demo_applications() -> str:
    with muted():  # demo people have made-up addresses
        return _load()


def _load() -> str:
    founder = User.objects.filter(email=FOUNDER, is_demo=True).first()
    operator = User.objects.filter(email=OPERATOR, is_demo=True).first()
    organisation = Organisation.objects.filter(legal_name=ORBITAL, is_demo=True).first()
    call = Call.objects.filter(mode__code="fast-lane", is_demo=True).first()
    if not (founder and operator and organisation and call):
        return "demo applications: skipped (demo people, organisation or Fast Lane call missing)"
    created = 0
    for title, gpu_hours, months, state in SCRIPT:
        if Application.objects.filter(organisation=organisation, title=title).exists():
            continue
        with transaction.atomic():
            application = application_create(
                actor=founder,
                call=call,
                organisation=organisation,
                data=_form(title, gpu_hours, months),
            )
            if state != "draft":
                application_submit(actor=founder, application=application)
            if state == "technical_review":
                application_eligibility_decide(
                    actor=operator, application=application, eligible=True
                )
            if state == "revision_requested":
                application_eligibility_decide(
                    actor=operator, application=application, eligible=True
                )
                application_request_revision(
                    actor=operator,
                    application=application,
                    note="Please add the scaling test on 8 GPUs to the evidence.",
                )
        created += 1
    if not Project.objects.filter(organisation=organisation, title=PROJECT).exists():
        start = timezone.localdate().replace(day=1)
        project_create(
            actor=operator,
            organisation=organisation,
            title=PROJECT,
            members=[(founder, "pi")],
            allocation={
                "resources": {"gpu_hours": 24_000, "cpu_core_hours": 60_000, "storage_tb": 5},
                "start": start.isoformat(),
                "end": (start + timedelta(days=364)).isoformat(),
                "tranche_policy": TranchePolicy.MONTHLY_CARRY,
                "pool": "eurohpc-" + str(start.year),
                "cluster": "meluxina-ai",
                "partition": "gpu",
            },
        )
    return f"demo applications: {created} created; a running project for {ORBITAL}"
