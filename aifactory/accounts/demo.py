"""The demo data: organisations of each kind and people in each role, all marked ``is_demo``."""

from django.db import transaction

from aifactory.core.roles import OrgRole, StaffRole

from . import services
from .models import Membership, Organisation, User

DEMO_PASSWORD = "demo-Factory-2026"

ORGANISATIONS = [
    {
        "legal_name": "Menuiserie Demo Schmit S.à r.l.",
        "country": "LU",
        "registration_number": "B900001",
        "kind": "sme",
        "sectors": ["crafts", "construction"],
        "staff_headcount": 8,
        "annual_turnover_eur": 900_000,
        "balance_sheet_eur": 600_000,
        "city": "Ettelbruck",
        "website": "https://carpentry.demo.invalid",
    },
    {
        "legal_name": "Demo Orbital Analytics S.A.",
        "country": "LU",
        "registration_number": "B900002",
        "kind": "startup",
        "sectors": ["space", "sustainability"],
        "staff_headcount": 14,
        "annual_turnover_eur": 1_200_000,
        "balance_sheet_eur": 3_000_000,
        "city": "Luxembourg",
    },
    {
        "legal_name": "Demo Fiduciaire Moselle",
        "country": "LU",
        "registration_number": "B900003",
        "kind": "sme",
        "sectors": ["finance", "legal"],
        "staff_headcount": 60,
        "annual_turnover_eur": 12_000_000,
        "balance_sheet_eur": 9_000_000,
        "city": "Remich",
    },
    {
        "legal_name": "Demo Institute for Secure Computing",
        "country": "LU",
        "kind": "research",
        "sectors": ["cybersecurity", "research"],
        "city": "Esch-sur-Alzette",
    },
    {
        "legal_name": "Demo Bäckerei Hoffmann GmbH",
        "country": "DE",
        "kind": "sme",
        "sectors": ["retail", "crafts"],
        "staff_headcount": 22,
        "annual_turnover_eur": 2_500_000,
        "city": "Trier",
    },
]

# (email, first name, last name, staff role, {organisation index: role})
PEOPLE = [
    ("admin@demo.aifactory.lu", "Ada", "Admin", StaffRole.ADMINISTRATOR, {}),
    ("operator@demo.aifactory.lu", "Olga", "Operator", StaffRole.OPERATOR, {}),
    ("reviewer@demo.aifactory.lu", "Rémi", "Reviewer", StaffRole.REVIEWER, {}),
    ("advisor@demo.aifactory.lu", "Anna", "Advisor", StaffRole.ADVISOR, {}),
    ("owner@carpentry.demo", "Jos", "Schmit", "", {0: OrgRole.OWNER}),
    ("manager@carpentry.demo", "Lena", "Schmit", "", {0: OrgRole.MANAGER}),
    ("member@carpentry.demo", "Tom", "Weber", "", {0: OrgRole.MEMBER}),
    ("founder@orbital.demo", "Mia", "Kirsch", "", {1: OrgRole.OWNER}),
    ("engineer@orbital.demo", "Paul", "Muller", "", {1: OrgRole.MEMBER}),
    ("partner@fiduciaire.demo", "Claire", "Dupont", "", {2: OrgRole.OWNER}),
    ("researcher@isc.demo", "Yuki", "Tanaka", "", {3: OrgRole.OWNER}),
    ("baker@hoffmann.demo", "Karl", "Hoffmann", "", {4: OrgRole.OWNER}),
]


def seed_demo() -> dict[str, int]:
    """Create what is missing; running it again changes nothing."""
    created = {"people": 0, "organisations": 0, "memberships": 0}
    with transaction.atomic():
        users = {}
        for email, first, last, role, _orgs in PEOPLE:
            user = User.objects.filter(email=email).first()
            if user is None:
                user = services.user_create(
                    email=email,
                    password=DEMO_PASSWORD,
                    first_name=first,
                    last_name=last,
                    staff_role=role,
                    email_verified=True,
                    is_demo=True,
                )
                services.terms_accept(user=user)
                created["people"] += 1
            users[email] = user
        organisations = []
        for index, data in enumerate(ORGANISATIONS):
            organisation = Organisation.objects.filter(legal_name=data["legal_name"]).first()
            if organisation is None:
                owner_email = next(e for e, *_r, orgs in PEOPLE if orgs.get(index) == OrgRole.OWNER)
                organisation = services.organisation_create(
                    actor=users[owner_email], data=data, is_demo=True
                )
                created["organisations"] += 1
            organisations.append(organisation)
        for email, *_rest, orgs in PEOPLE:
            for index, role in orgs.items():
                _m, made = Membership.objects.get_or_create(
                    organisation=organisations[index], user=users[email], defaults={"role": role}
                )
                created["memberships"] += int(made)
    return created
