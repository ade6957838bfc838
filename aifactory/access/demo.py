"""Demo access modes, pools and calls: the EuroHPC AI Factory modes as they are published.

Loaded by `aifactory seed-demo` (registered in AccessConfig.ready). Idempotent: a record whose
code exists already is left as it is, so an operator's edits survive a second run.
"""

from datetime import date, datetime, time

from django.db import transaction
from django.utils import timezone

from .models import AccessMode, Call, CallStatus, CapacityPool
from .services.modes import call_create, call_open, mode_create, pool_create

# MeluXina-AI-like machine: about 800 GPUs, so some 7 million GPU hours a year, split in two.
POOL_CAPACITY = {"gpu_hours": 3_500_000, "cpu_core_hours": 40_000_000, "storage_tb": 2_000}


def _pools(year: int) -> list[dict]:
    return [
        {
            "code": f"eurohpc-{year}",
            "name": f"EuroHPC share {year}",
            "share_percent": 50,
            "capacity": POOL_CAPACITY,
            "period_start": date(year, 1, 1).isoformat(),
            "period_end": date(year, 12, 31).isoformat(),
        },
        {
            "code": f"national-{year}",
            "name": f"National share {year}",
            "share_percent": 50,
            "capacity": POOL_CAPACITY,
            "period_start": date(year, 1, 1).isoformat(),
            "period_end": date(year, 12, 31).isoformat(),
        },
    ]


def _modes(year: int) -> list[dict]:
    eurohpc, national = f"eurohpc-{year}", f"national-{year}"
    return [
        {
            "code": "playground",
            "name": {
                "en": "Playground",
                "de": "Playground",
                "fr": "Playground",
                "lb": "Playground",
            },
            "description": {
                "en": "Entry level: a small allocation to try AI on the supercomputer, "
                "first come, first served.",
                "de": "Einstieg: eine kleine Zuteilung, um KI auf dem Supercomputer zu "
                "erproben; wer zuerst kommt, wird zuerst bedient.",
                "fr": "Niveau d'entrée : une petite allocation pour essayer l'IA sur le "
                "supercalculateur, premier arrivé, premier servi.",
            },
            "pool": eurohpc,
            "limits": {
                "gpu_hours": {"min": 0, "max": 2_000},
                "cpu_core_hours": {"min": 0, "max": 20_000},
                "storage_tb": {"min": 0, "max": 1},
            },
            "durations_months": [1, 2, 3],
            "first_come": True,
            "reviews": [],
            "decision_days": 2,
        },
        {
            "code": "fast-lane",
            "name": {"en": "Fast Lane", "de": "Fast Lane", "fr": "Fast Lane", "lb": "Fast Lane"},
            "description": {
                "en": "Up to 50,000 GPU hours for 1 to 3 months, after a technical assessment.",
                "de": "Bis zu 50.000 GPU-Stunden für 1 bis 3 Monate, nach technischer Prüfung.",
                "fr": "Jusqu'à 50 000 heures GPU pour 1 à 3 mois, après évaluation technique.",
            },
            "pool": eurohpc,
            "limits": {
                "gpu_hours": {"min": 0, "max": 50_000},
                "cpu_core_hours": {"min": 0, "max": 200_000},
                "storage_tb": {"min": 0, "max": 20},
            },
            "durations_months": [1, 2, 3],
            "reviews": ["technical"],
            "decision_days": 4,
        },
        {
            "code": "large-scale",
            "name": {
                "en": "Large Scale",
                "de": "Large Scale",
                "fr": "Large Scale",
                "lb": "Large Scale",
            },
            "description": {
                "en": "Over 50,000 GPU hours for 3, 6 or 12 months: technical and peer review, "
                "decided together after each cut-off.",
                "de": "Über 50.000 GPU-Stunden für 3, 6 oder 12 Monate: technische Prüfung und "
                "Peer-Review, gemeinsam nach jedem Stichtag entschieden.",
                "fr": "Plus de 50 000 heures GPU pour 3, 6 ou 12 mois : évaluation technique et "
                "par les pairs, décidées ensemble après chaque date limite.",
            },
            "pool": eurohpc,
            "limits": {
                "gpu_hours": {"min": 50_001, "max": 1_000_000},
                "cpu_core_hours": {"min": 0, "max": 2_000_000},
                "storage_tb": {"min": 0, "max": 200},
            },
            "durations_months": [3, 6, 12],
            "has_cutoffs": True,
            "reviews": ["technical", "peer"],
            "decision_days": 10,
            "clock_starts": "cutoff",
            "tranche_policy": "monthly_expire",
        },
        {
            "code": "ai-science",
            "name": {
                "en": "AI for Science and collaborative projects",
                "de": "KI für die Wissenschaft und Verbundprojekte",
                "fr": "IA pour la science et projets collaboratifs",
            },
            "description": {
                "en": "Six months for research and collaborative projects, after peer review.",
                "de": "Sechs Monate für Forschungs- und Verbundprojekte, nach Peer-Review.",
                "fr": "Six mois pour la recherche et les projets collaboratifs, après "
                "évaluation par les pairs.",
            },
            "pool": eurohpc,
            "limits": {
                "gpu_hours": {"min": 0, "max": 200_000},
                "cpu_core_hours": {"min": 0, "max": 1_000_000},
                "storage_tb": {"min": 0, "max": 50},
            },
            "durations_months": [6],
            "reviews": ["technical", "peer"],
            "for_kinds": ["research", "public", "startup", "sme"],
            "decision_days": 10,
        },
        {
            "code": "national",
            "name": {
                "en": "National access",
                "de": "Nationaler Zugang",
                "fr": "Accès national",
                "lb": "Nationalen Zougang",
            },
            "description": {
                "en": "The national share of the machine, for organisations in Luxembourg: "
                "yearly grants split into monthly tranches.",
                "de": "Der nationale Anteil der Maschine, für Organisationen in Luxemburg: "
                "Jahreszuteilungen in monatlichen Tranchen.",
                "fr": "La part nationale de la machine, pour les organisations au Luxembourg : "
                "des allocations annuelles réparties en tranches mensuelles.",
            },
            "pool": national,
            "limits": {
                "gpu_hours": {"min": 0, "max": 100_000},
                "cpu_core_hours": {"min": 0, "max": 1_000_000},
                "storage_tb": {"min": 0, "max": 100},
            },
            "durations_months": [1, 3, 6, 12],
            "reviews": ["technical"],
            "eligible_countries": ["LU"],
            "decision_days": 5,
            "tranche_policy": "monthly_carry",
        },
    ]


def _next_cutoffs(today: date) -> list[date]:
    """The next four quarterly cut-offs (1 March, June, September, December) after today, so the
    demo call always has cut-offs ahead of it, whenever it is loaded."""
    days = [date(y, m, 1) for y in (today.year, today.year + 1) for m in (3, 6, 9, 12)]
    return [day for day in days if day > today][:4]


def _calls(year: int, modes: dict[str, AccessMode]) -> list[dict]:
    opens = timezone.make_aware(datetime.combine(date(year, 1, 1), time(9)))
    calls = []
    for code, mode in modes.items():
        call = {
            "code": f"{code}-{year}",
            "mode": code,
            "title": {
                lang: f"{text} {year}" for lang, text in mode.name.items() if lang in ("en", "de")
            },
            "opens_at": opens.isoformat(),
        }
        if mode.has_cutoffs:
            cutoffs = _next_cutoffs(timezone.localdate())
            call["title"] = {"en": f"{mode.name['en']} {year}: cut-offs every quarter"}
            call["closes_at"] = timezone.make_aware(
                datetime.combine(cutoffs[-1], time(17))
            ).isoformat()
            call["cutoffs"] = [day.isoformat() for day in cutoffs]
        calls.append(call)
    return calls


def load_demo_access() -> str:
    year = timezone.localdate().year
    created = {"pools": 0, "modes": 0, "calls": 0}
    with transaction.atomic():
        for data in _pools(year):
            if not CapacityPool.objects.filter(code=data["code"]).exists():
                pool_create(actor=None, data=data, is_demo=True)
                created["pools"] += 1
        for data in _modes(year):
            if not AccessMode.objects.filter(code=data["code"]).exists():
                mode_create(actor=None, data=data, is_demo=True)
                created["modes"] += 1
        modes = {m["code"]: AccessMode.objects.get(code=m["code"]) for m in _modes(year)}
        for data in _calls(year, modes):
            if not Call.objects.filter(code=data["code"]).exists():
                call = call_create(actor=None, data=data, is_demo=True)
                call_open(actor=None, call=call)
                created["calls"] += 1
        opened = Call.objects.filter(is_demo=True, status=CallStatus.OPEN).count()
    return (
        f"demo access: {created['pools']} pools, {created['modes']} modes, "
        f"{created['calls']} calls created ({opened} demo calls open)"
    )
