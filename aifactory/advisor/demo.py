"""Demo support cases: four organisations of the demo data ask the factory, in four languages,
and the demo advisor has answered some of them. Loaded by `aifactory seed-demo` after the
catalogue (the cases are matched against it), idempotent, and through the services.

Two things only the demo does: it moves the opening of some cases into the past (so the inbox
shows an overdue case and a closed one), and it sends no e-mail (the demo addresses are fake).
"""

from datetime import timedelta

from django.db import transaction

from aifactory.accounts.models import Organisation, User
from aifactory.core.mail import muted
from aifactory.core.workdays import add_working_days

from .models import Case, CaseEntry
from .services import cases as services

ADVISOR = "advisor@demo.aifactory.lu"

# (opener, organisation, days ago, subject, need, script). The script is a list of steps:
# ("assign",), ("triage", stage, sector), ("message", who, text, await_customer),
# ("note", text, visibility), ("link", external id of a published offering), ("close", reason).
CASES = [
    (
        "owner@carpentry.demo",
        "Menuiserie Demo Schmit S.à r.l.",
        3,
        "Offerten méi séier schreiwen",
        "Mir sinn eng Schräinerei mat aacht Leit zu Ettelbréck. D'Offerten schreiwen dauert all "
        "Owend Stonnen: Opmooss, Materiallëscht, Präisser. Gëtt et eng KI, déi eis aus dem "
        "Opmooss en Devis mécht? An ass dat och eppes fir e klenge Betrib?",
        [
            ("assign",),
            ("triage", "discover", "crafts"),
            (
                "message",
                "advisor",
                "Moien Här Schmit, merci fir Är Ufro. Et gëtt eng fäerdeg Léisung fir "
                "Schräinereien, déi Offerten aus dem Opmooss mécht, an e Cours fir "
                "Betribsinhaber; ech hunn Iech déi zwee hei verlinkt. Wéi vill Offerte schreift "
                "Dir ongeféier pro Woch?",
                True,
            ),
            ("link", "sol-carpentry-quote-assistant"),
            ("link", "course-ai-basics-craftsmen"),
            (
                "note",
                "Small shop, owner very motivated. Check SME digital package eligibility "
                "before proposing the workshop.",
                "internal",
            ),
        ],
    ),
    (
        "baker@hoffmann.demo",
        "Demo Bäckerei Hoffmann GmbH",
        5,
        "Weniger Brot wegwerfen",
        "Wir sind eine Bäckerei mit 22 Mitarbeitern und drei Filialen. Jeden Abend werfen wir zu "
        "viel Brot weg, an manchen Tagen ist um 14 Uhr alles ausverkauft. Kann eine KI vorhersagen, "
        "wie viel wir pro Filiale backen sollen? Gibt es dafür eine Förderung?",
        [],
    ),
    (
        "founder@orbital.demo",
        "Demo Orbital Analytics S.A.",
        2,
        "GPU hours for Sentinel-2 segmentation",
        "We are a space start-up in Luxembourg. We want to fine-tune a segmentation model on "
        "Sentinel-2 and Sentinel-1 imagery to detect illegal dumping sites and report them to "
        "municipalities. We estimate 5,000 GPU hours over two months and need help with the "
        "access application and the AI Act classification.",
        [
            ("assign",),
            ("triage", "build", "space"),
            (
                "message",
                "advisor",
                "Thank you, Ms Kirsch. For 5,000 GPU hours the development access fits; I linked "
                "it with our AI Act support. Could you send a short scaling test (1 and 4 GPUs) "
                "so the technical assessment goes quickly?",
                False,
            ),
            ("link", "svc-gpu-development-access"),
            ("link", "svc-ai-act-support"),
            (
                "message",
                "customer",
                "Thanks! We ran the test on 1 and 4 GPUs last week, I will attach the figures "
                "to the application.",
                False,
            ),
        ],
    ),
    (
        "partner@fiduciaire.demo",
        "Demo Fiduciaire Moselle",
        20,
        "Saisie automatique des factures",
        "Nous sommes une fiduciaire de 60 personnes à Remich. Nous voulons automatiser la saisie "
        "des factures fournisseurs de nos clients (PDF et papier scanné) et savoir si un tel outil "
        "relève de l'AI Act. Les données de nos clients ne doivent pas quitter l'UE.",
        [
            ("assign",),
            ("triage", "connect", "finance"),
            (
                "message",
                "advisor",
                "Bonjour Madame Dupont, deux solutions hébergées dans l'UE répondent à votre "
                "besoin ; je vous les ai liées. La saisie de factures n'est pas un système à "
                "haut risque au sens de l'AI Act. Je vous propose un appel pour comparer.",
                False,
            ),
            ("link", "sol-fiduciary-document-capture"),
            ("link", "sol-fiduciary-vat-reconciliation"),
            (
                "message",
                "customer",
                "Merci, nous avons choisi la première solution et démarrons le mois prochain.",
                False,
            ),
            ("close", "resolved"),
        ],
    ),
]


def _published(external_id: str):
    from aifactory.catalog.models import Offering, OfferingStatus

    return Offering.objects.filter(external_id=external_id, status=OfferingStatus.PUBLISHED).first()


def _play(case: Case, script, *, customer: User, advisor: User) -> None:
    for step in script:
        kind = step[0]
        if kind == "assign":
            services.case_assign(actor=advisor, case=case, assignee=advisor)
        elif kind == "triage":
            services.case_triage(actor=advisor, case=case, stage=step[1], sector=step[2])
        elif kind == "message":
            who = advisor if step[1] == "advisor" else customer
            services.case_message(actor=who, case=case, body=step[2], await_customer=step[3])
        elif kind == "note":
            services.case_note(actor=advisor, case=case, body=step[1], visibility=step[2])
        elif kind == "link":
            offering = _published(step[1])  # missing from a trimmed catalogue: skipped
            if offering is not None and not case.offerings.filter(pk=offering.pk).exists():
                services.case_link_offering(actor=advisor, case=case, offering=offering)
        elif kind == "close":
            services.case_close(actor=advisor, case=case, reason=step[1])
        case.refresh_from_db()


def _backdate(case: Case, days: int) -> None:
    """Move the case into the past, its timeline spread over the hours after the opening, as if
    it had been handled then (demo only; the services always stamp the present)."""
    opened = case.created_at - timedelta(days=days)
    entries = list(CaseEntry.objects.filter(case=case).order_by("created_at"))
    for n, entry in enumerate(entries):
        entry.created_at = opened + timedelta(hours=3 * n)
        CaseEntry.objects.filter(pk=entry.pk).update(created_at=entry.created_at)
    first_answer = next(
        (
            e.created_at
            for e in entries
            if e.kind == "message" and e.author_id == case.assigned_to_id
        ),
        None,
    )
    Case.objects.filter(pk=case.pk).update(
        created_at=opened,
        first_response_due=add_working_days(opened, _first_response_days()),
        first_response_at=first_answer if case.first_response_at else None,
        closed_at=entries[-1].created_at if case.closed_at else None,
    )
    case.refresh_from_db()


def _first_response_days() -> int:
    from django.conf import settings

    return settings.ADVISOR_FIRST_RESPONSE_DAYS


def load_demo_cases() -> str:
    advisor = User.objects.filter(email=ADVISOR, is_demo=True).first()
    if advisor is None:
        return "demo cases: skipped (the demo advisor is missing)"
    created = existing = skipped = 0
    # Demo people have made-up addresses: nothing is mailed while the demo is loaded.
    with muted():
        for email, org_name, days_ago, subject, need, script in CASES:
            customer = User.objects.filter(email=email, is_demo=True).first()
            organisation = Organisation.objects.filter(legal_name=org_name, is_demo=True).first()
            if customer is None or organisation is None:
                skipped += 1
                continue
            if Case.objects.filter(organisation=organisation, subject=subject).exists():
                existing += 1
                continue
            with transaction.atomic():
                case = services.case_open(
                    actor=customer, organisation=organisation, need=need, subject=subject
                )
                _play(case, script, customer=customer, advisor=advisor)
                _backdate(case, days_ago)
            created += 1
    return f"demo cases: {created} created, {existing} there already" + (
        f", {skipped} skipped (demo organisation or person missing)" if skipped else ""
    )
