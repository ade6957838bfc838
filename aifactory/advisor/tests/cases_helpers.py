"""Shared fixtures of the support-case tests (imported by the test_cases_*.py modules).

A small published catalogue, embedded for search, so the matchmaking that case_open runs is
the real one; a customer organisation with its owner and a member; the factory's staff.
"""

import pytest

__all__ = [
    "NEED_DE",
    "mails_to",
    "catalogue",
    "customer_org",
    "advisor",
    "operator",
    "outsider",
    "case",
]
from django.core import mail

from aifactory.advisor.services import cases as services
from aifactory.catalog import services as catalog_services

CATALOGUE = [
    {
        "id": "sol-quote-assistant",
        "type": "solution",
        "title": {"fr": "Assistant de devis pour menuiseries"},
        "description": {
            "fr": "Génère des devis à partir des métrés et de la liste de matériaux, pour les "
            "menuiseries et charpentes."
        },
        "sectors": ["crafts"],
        "tags": ["devis", "menuiserie"],
        "languages": ["fr"],
        "stage": "build",
        "provider": "Atelier Numérique S.à r.l.",
        "url": "https://atelier.example.lu",
    },
    {
        "id": "svc-readiness-diagnostic",
        "type": "service",
        "title": {"en": "AI readiness diagnostic"},
        "description": {"en": "Half a day with an advisor to find where AI helps your business."},
        "sectors": ["general"],
        "tags": ["diagnostic"],
        "languages": ["en", "de", "fr", "lb"],
        "stage": "assess",
        "provider": "AI Factory Luxembourg",
        "url": "",
    },
    {
        "id": "course-ai-for-crafts",
        "type": "course",
        "title": {"de": "KI im Handwerk"},
        "description": {"de": "Zwei Abende: Angebote, Aufmaß und Planung mit KI im Handwerk."},
        "sectors": ["crafts"],
        "tags": ["kurs"],
        "languages": ["de"],
        "stage": "upskill",
        "provider": "Chambre des Métiers",
        "url": "",
    },
]

NEED_DE = (
    "Wir sind eine Schreinerei mit acht Leuten. Das Schreiben der Angebote aus Aufmaß und "
    "Materialliste dauert jeden Abend Stunden. Gibt es eine KI, die uns dabei hilft?"
)


@pytest.fixture
def catalogue(db):
    catalog_services.catalog_import(actor=None, records=CATALOGUE)
    catalog_services.catalog_index_pending()
    return CATALOGUE


@pytest.fixture
def customer_org(make_user, make_org, add_member):
    owner = make_user()
    org = make_org(owner=owner, legal_name="Menuiserie Test S.à r.l.", sectors=["crafts"])
    member = make_user()
    add_member(org, member, "member")
    return {"org": org, "owner": owner, "member": member}


@pytest.fixture
def advisor(make_user):
    return make_user("anna.advisor@factory.test", staff_role="advisor")


@pytest.fixture
def operator(make_user):
    return make_user("olga.operator@factory.test", staff_role="operator")


@pytest.fixture
def outsider(make_user, make_org):
    person = make_user()
    make_org(owner=person, legal_name="Someone Else S.A.")
    return person


@pytest.fixture
def case(catalogue, customer_org, advisor, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        opened = services.case_open(
            actor=customer_org["owner"], organisation=customer_org["org"], need=NEED_DE
        )
    mail.outbox.clear()
    return opened


def mails_to(address: str) -> list:
    return [m for m in mail.outbox if address in m.to]
