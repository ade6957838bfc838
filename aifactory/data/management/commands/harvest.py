"""`aifactory harvest add|list|run`: see aifactory/data/cli_harvest.py."""

from django.core.management.base import BaseCommand
from django.utils import translation

from aifactory.data import cli_harvest


class Command(BaseCommand):
    help = (
        "Harvest sources (DCAT-AP): `harvest add NAME (--url URL | --file PATH) --publisher ORG "
        "[--title T] [--interval HOURS]`, `harvest list`, `harvest run NAME`."
    )

    def add_arguments(self, parser):
        cli_harvest.add_arguments(parser)

    def handle(self, *args, action: str, **options):
        with translation.override("en"):
            cli_harvest.handle(action, {**options, "stdout": self.stdout, "stderr": self.stderr})
