"""The demo data: organisations of each kind and people in each role, all marked ``is_demo``."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from aifactory.core.errors import ServiceError, field_errors
from aifactory.core.roles import OrgRole, StaffRole

from . import services
from .models import Membership, Organisation, User
from .validators import clean_registration_number

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
        "registration_number": "J900004",
        "kind": "research",
        "sectors": ["cybersecurity", "research"],
        "city": "Esch-sur-Alzette",
    },
    {
        "legal_name": "Demo Bäckerei Hoffmann GmbH",
        "country": "DE",
        "registration_number": "HRB 900005",
        "kind": "sme",
        "sectors": ["retail", "crafts"],
        "staff_headcount": 22,
        "annual_turnover_eur": 2_500_000,
        "city": "Trier",
    },
    # The publisher of the data app's demo datasets (aifactory/data/demo.py).
    {
        "legal_name": "Demo Lëtzebuerg Open Data Service",
        "country": "LU",
        "registration_number": "J900006",
        "kind": "public",
        "sectors": ["public-sector", "energy"],
        "city": "Luxembourg",
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
    ("steward@opendata.demo", "Sam", "Steward", "", {5: OrgRole.OWNER}),
]


def _find_organisation(data: dict) -> Organisation | None:
    """A demo organisation already loaded: by registration number, which survives a rename,
    then by legal name (older runs loaded some without a number). Never someone else's."""
    demo = Organisation.objects.filter(is_demo=True)
    number = clean_registration_number(data.get("registration_number", ""), data["country"])
    found = None
    if number:
        found = demo.filter(country=data["country"], registration_number=number).first()
    return found or demo.filter(country=data["country"], legal_name=data["legal_name"]).first()


def demo_organisation(legal_name: str) -> Organisation | None:
    """The loaded demo organisation of ORGANISATIONS with that legal name (found as seed_demo
    finds it, so also after its owners renamed it), for other apps' demo data."""
    data = next((d for d in ORGANISATIONS if d["legal_name"] == legal_name), None)
    return _find_organisation(data) if data else None


def _owner_of(organisation: Organisation) -> User | None:
    membership = (
        Membership.objects.filter(organisation=organisation, role=OrgRole.OWNER)
        .select_related("user")
        .order_by("created_at")
        .first()
    )
    return membership.user if membership else None


def seed_demo() -> dict:
    """Create what is missing; running it again changes nothing.

    Returns the counts of what was created and a list of warnings: a demo record that cannot be
    created (say, its e-mail address or registration number is taken) is reported and skipped, so
    `make run` still starts.
    """
    created = {"people": 0, "organisations": 0, "memberships": 0}
    warnings: list[str] = []

    def attempt(what: str, make):
        try:
            with transaction.atomic():
                return make()
        except (ValidationError, ServiceError, PermissionDenied, IntegrityError) as exc:
            reason = _format_error(exc)
            warnings.append(f"{what}: {reason}")
            return None

    users: dict[str, User] = {}
    for email, first, last, role, _orgs in PEOPLE:
        user = User.objects.filter(email__iexact=email).first()
        if user is not None and not user.is_demo:
            warnings.append(f"person {email}: the address belongs to a real account; skipped")
            continue
        if user is None:

            def make_person(email=email, first=first, last=last, role=role):
                person = services.user_create(
                    email=email,
                    password=DEMO_PASSWORD,
                    first_name=first,
                    last_name=last,
                    staff_role=role,
                    email_verified=True,
                    is_demo=True,
                )
                # Demo people are for trying the hub at once, without the terms page first.
                services.terms_accept(user=person)
                return person

            user = attempt(f"person {email}", make_person)
            if user is None:
                continue
            created["people"] += 1
        users[email] = user

    organisations: dict[int, Organisation] = {}
    for index, data in enumerate(ORGANISATIONS):
        organisation = _find_organisation(data)
        if organisation is None:
            owner_email = next(e for e, *_r, orgs in PEOPLE if orgs.get(index) == OrgRole.OWNER)
            if owner_email not in users:
                warnings.append(f"organisation {data['legal_name']}: its owner is missing")
                continue
            organisation = attempt(
                f"organisation {data['legal_name']}",
                lambda data=data, owner=users[owner_email]: services.organisation_create(
                    actor=owner, data=data, is_demo=True
                ),
            )
            if organisation is None:
                continue
            created["organisations"] += 1
        organisations[index] = organisation

    for email, *_rest, orgs in PEOPLE:
        for index, role in orgs.items():
            organisation, user = organisations.get(index), users.get(email)
            if organisation is None or user is None:
                continue
            if Membership.objects.filter(organisation=organisation, user=user).exists():
                continue
            owner = _owner_of(organisation)
            if owner is None:
                warnings.append(f"membership {email} in {organisation}: it has no owner")
                continue
            made = attempt(
                f"membership {email} in {organisation}",
                lambda organisation=organisation, user=user, role=role, owner=owner: (
                    services.membership_add(
                        actor=owner, organisation=organisation, user=user, role=role
                    )
                ),
            )
            created["memberships"] += int(made is not None)
    return {**created, "warnings": warnings}


def _format_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{field}: {' '.join(messages)}" for field, messages in field_errors(exc).items()
        )
    if isinstance(exc, ServiceError):
        return exc.message
    if isinstance(exc, PermissionDenied):
        return f"not allowed ({exc})"
    return str(exc)
