"""`aifactory jobs submit|list|show|cancel|logs|templates`: see aifactory/compute/cli_jobs.py."""

from django.core.management.base import BaseCommand
from django.utils import translation

from aifactory.compute import cli_jobs


class Command(BaseCommand):
    help = (
        "Compute jobs: `jobs submit --project P --cluster C --time 2:00:00 --user EMAIL "
        "(SCRIPT | --template NAME --param k=v ...)`, `jobs list`, `jobs show REF`, "
        "`jobs cancel REF --user EMAIL`, `jobs logs REF`, `jobs templates`."
    )

    def add_arguments(self, parser):
        cli_jobs.add_arguments(parser)

    def handle(self, *args, action: str, **options):
        with translation.override("en"):
            cli_jobs.handle(action, {**options, "stdout": self.stdout, "stderr": self.stderr})
