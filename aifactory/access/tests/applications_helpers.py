"""Shared set-up of the application tests (imported by the test_applications_*.py modules):
a pool, a Fast Lane-like mode with an open call, an applicant organisation, an operator, and a
complete draft. Modes and calls are created directly: they are test set-up, not under test here.
"""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from aifactory.access import services
from aifactory.access.models import AccessMode, CallStatus, CapacityPool
from aifactory.access.models import Call as CallModel

__all__ = [
    "COMPLETE",
    "PDF",
    "applicant",
    "application",
    "call",
    "complete_application",
    "make_call",
    "make_mode",
    "mode",
    "operator",
    "org",
    "pool",
    "submitted",
]

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
COMPLETE = {
    "title": "Fine-tuning a Luxembourgish speech model",
    "abstract": "We adapt an open speech model to Luxembourgish.",
    "objectives": "A public model for the national broadcaster's subtitles.",
    "sector": "media",
    "ai_act_risk": "limited",
    "ai_act_reasons": "It generates subtitles people read.",
    "model_type": "speech-to-text transformer",
    "model_size": "1.5B parameters",
    "datasets": "1,200 hours of transcribed radio archives.",
    "personal_data": False,
    "requested": {"gpu_hours": 20000, "storage_tb": 5},
    "duration_months": 3,
    "start_date": (date.today() + timedelta(days=30)).isoformat(),
    "system": "MeluXina-AI / gpu",
    "justification": "Benchmarks on 8 GPUs scale linearly to 64.",
    "ethics_note": "Speakers consented; no biometric identification.",
}


@pytest.fixture
def pool(db):
    return CapacityPool.objects.create(
        code="eurohpc",
        name="EuroHPC share",
        share_percent=50,
        capacity={"gpu_hours": 1_000_000},
        period_start=date(2026, 1, 1),
        period_end=date(2027, 12, 31),
    )


def make_mode(pool, **values):
    data = {
        "code": "fast-lane",
        "name": {"en": "Fast Lane"},
        "pool": pool,
        "limits": {
            "gpu_hours": {"min": 0, "max": 50000},
            "storage_tb": {"min": 0, "max": 20},
        },
        "durations_months": [1, 2, 3],
        "reviews": ["technical"],
        "for_kinds": ["startup", "sme", "research"],
        "decision_days": 4,
    }
    data.update(values)
    return AccessMode.objects.create(**data)


def make_call(mode, **values):
    data = {
        "code": f"{mode.code}-call",
        "mode": mode,
        "title": {"en": f"{mode.code} call"},
        "status": CallStatus.OPEN,
        "opens_at": timezone.now() - timedelta(days=1),
    }
    data.update(values)
    return CallModel.objects.create(**data)


@pytest.fixture
def mode(pool):
    return make_mode(pool)


@pytest.fixture
def call(mode):
    return make_call(mode)


@pytest.fixture
def applicant(make_user):
    return make_user("applicant@example.org")


@pytest.fixture
def org(make_org, applicant):
    return make_org(owner=applicant, kind="startup")


@pytest.fixture
def operator(make_user):
    return make_user("operator@factory.example", staff_role="operator")


@pytest.fixture
def application(applicant, org, call):
    return services.application_create(actor=applicant, call=call, organisation=org)


@pytest.fixture
def complete_application(applicant, application):
    return services.application_update(actor=applicant, application=application, data=COMPLETE)


@pytest.fixture
def submitted(applicant, complete_application):
    return services.application_submit(actor=applicant, application=complete_application)
