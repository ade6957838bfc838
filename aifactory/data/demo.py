"""Demo data: a national open-data service publishing three datasets with small files made here
(Luxembourg electricity use per commune and month, public; grid incidents, restricted, without
personal data; staff training hours, internal). Made through the services (``actor=None``, the
system), marked ``is_demo``; mail is muted. Idempotent: a dataset whose short name exists is
left as it is. The publisher and its steward (steward@opendata.demo) come from the accounts demo,
which runs first. Registered in DataConfig.ready with ``aifactory.core.demo.register``."""

import random
from datetime import date

from django.db import transaction

from aifactory.accounts.demo import demo_organisation
from aifactory.accounts.models import Organisation
from aifactory.core.mail import muted

from . import services
from .models import Dataset

PUBLISHER = "Demo Lëtzebuerg Open Data Service"  # made by the accounts demo, with its steward
COMMUNES = [
    "Luxembourg",
    "Esch-sur-Alzette",
    "Differdange",
    "Dudelange",
    "Ettelbruck",
    "Diekirch",
    "Wiltz",
    "Echternach",
    "Remich",
    "Grevenmacher",
    "Mersch",
    "Clervaux",
]


def energy_csv() -> bytes:
    """Monthly electricity use per commune, 2023–2024 (288 rows, made up but plausible)."""
    rng = random.Random(6)  # noqa: S311 - made-up demo figures
    lines = ["commune,month,households,consumption_mwh,renewable_share"]
    for commune in COMMUNES:
        households = rng.randint(2_000, 60_000)
        for year in (2023, 2024):
            for month in range(1, 13):
                winter = 1.25 if month in (1, 2, 11, 12) else 1.0
                mwh = households * 0.32 * winter * rng.uniform(0.9, 1.1)
                share = rng.uniform(0.12, 0.35)
                lines.append(f"{commune},{year}-{month:02d},{households},{mwh:.1f},{share:.3f}")
    return ("\n".join(lines) + "\n").encode()


def incidents_csv() -> bytes:
    rng = random.Random(7)  # noqa: S311 - made-up demo figures
    lines = ["incident_id,date,commune,cause,minutes_without_power,customers_affected"]
    causes = ["storm", "cable damage", "equipment", "planned works", "unknown"]
    for n in range(1, 121):
        day = date(2024, 1, 1).toordinal() + rng.randint(0, 365)
        lines.append(
            f"GRID-{n:04d},{date.fromordinal(day).isoformat()},{rng.choice(COMMUNES)},"
            f"{rng.choice(causes)},{rng.randint(5, 600)},{rng.randint(1, 4_000)}"
        )
    return ("\n".join(lines) + "\n").encode()


def training_csv() -> bytes:
    rows = ["team,quarter,hours"] + [
        f"{team},2024-Q{q},{8 * q + len(team)}" for team in ("data", "ops", "legal") for q in (1, 2)
    ]
    return ("\n".join(rows) + "\n").encode()


DATASETS = [
    {
        "slug": "lu-electricity-consumption",
        "title": {
            "en": "Electricity consumption per commune",
            "de": "Stromverbrauch pro Gemeinde",
            "fr": "Consommation d'électricité par commune",
            "lb": "Stroumverbrauch pro Gemeng",
        },
        "description": {
            "en": "Monthly electricity consumption of households in twelve Luxembourg communes, "
            "with the share of renewable sources, 2023–2024. Demo data.",
            "fr": "Consommation mensuelle d'électricité des ménages de douze communes "
            "luxembourgeoises, avec la part d'énergies renouvelables, 2023–2024. Données de "
            "démonstration.",
        },
        "keywords": ["electricity", "energy", "households", "renewables"],
        "themes": ["ENER", "REGI"],
        "licence": "CC_BY_4_0",
        "access_rights": "public",
        "frequency": "MONTHLY",
        "spatial": "LUX",
        "temporal_start": "2023-01-01",
        "temporal_end": "2024-12-31",
        "contact_name": "Open data desk",
        "contact_email": "opendata@opendata.demo",
        "provenance": "Aggregated from the grid operators' meter readings (demo).",
        "_file": ("electricity_consumption.csv", energy_csv),
    },
    {
        "slug": "lu-grid-incidents",
        "title": {
            "en": "Power grid incidents 2024",
            "de": "Störungen im Stromnetz 2024",
            "fr": "Incidents du réseau électrique 2024",
        },
        "description": {
            "en": "Every interruption of the power supply in 2024 with its cause, duration and "
            "the customers affected. No personal data; restricted because it reveals weak "
            "points of the grid. Demo data."
        },
        "keywords": ["grid", "outages", "resilience"],
        "themes": ["ENER", "JUST"],
        "licence": "CC_BY_4_0",
        "access_rights": "restricted",
        "personal_data": False,
        "use_conditions": "For research on grid resilience only; no publication of single "
        "incidents; delete the data when the access ends.",
        "frequency": "ANNUAL",
        "spatial": "LUX",
        "temporal_start": "2024-01-01",
        "temporal_end": "2024-12-31",
        "contact_name": "Open data desk",
        "contact_email": "opendata@opendata.demo",
        "_file": ("grid_incidents_2024.csv", incidents_csv),
    },
    {
        "slug": "opendata-staff-training",
        "title": {"en": "Staff training hours", "de": "Schulungsstunden des Personals"},
        "description": {"en": "Training hours per team and quarter, for the service's own use."},
        "keywords": ["training"],
        "themes": ["GOVE"],
        "access_rights": "internal",
        "frequency": "QUARTERLY",
        "_file": ("training_hours.csv", training_csv),
    },
]


def _publisher() -> Organisation | None:
    return demo_organisation(PUBLISHER)


def load_demo_data() -> str:
    created = []
    with muted(), transaction.atomic():
        publisher = _publisher()
        if publisher is None:  # its owner's e-mail address was taken: no demo publisher
            return "demo data: no publisher"
        for spec in DATASETS:
            if Dataset.objects.filter(slug=spec["slug"]).exists():
                continue
            data = {k: v for k, v in spec.items() if not k.startswith("_")}
            dataset = services.dataset_create(actor=None, organisation=publisher, data=data)
            Dataset.objects.filter(pk=dataset.pk).update(is_demo=True)
            name, make = spec["_file"]
            services.version_create(
                actor=None, dataset=dataset, files=[(name, [make()])], note="Demo data."
            )
            services.dataset_publish(actor=None, dataset=dataset)
            created.append(dataset.slug)
    return f"demo data: {', '.join(created) or 'nothing new'}"


__all__ = ["DATASETS", "PUBLISHER", "load_demo_data"]
