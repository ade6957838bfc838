"""`aifactory data-requests list|approve|refuse|grants|revoke|expire|log|query`: see
aifactory/data/cli_requests.py."""

from django.core.management.base import BaseCommand
from django.utils import translation

from aifactory.data import cli_requests


class Command(BaseCommand):
    help = (
        "Access to data: `data-requests list [--status S]`, `data-requests approve ID "
        "[--expires YYYY-MM-DD] [--conditions TEXT]`, `data-requests refuse ID --reason TEXT`, "
        "`data-requests grants`, `data-requests revoke GRANT --reason TEXT`, "
        '`data-requests log SLUG`, `data-requests query "SQL" --user EMAIL`.'
    )

    def add_arguments(self, parser):
        cli_requests.add_arguments(parser)

    def handle(self, *args, action: str, **options):
        with translation.override("en"):
            cli_requests.handle(action, {**options, "stdout": self.stdout, "stderr": self.stderr})
