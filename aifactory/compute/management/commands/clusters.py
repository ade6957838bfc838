"""`aifactory clusters add|update|list|partition|account|sync`: see aifactory/compute/cli_clusters.py."""

from django.core.management.base import BaseCommand
from django.utils import translation

from aifactory.compute import cli_clusters


class Command(BaseCommand):
    help = (
        "Compute clusters: `clusters add NAME --backend local|slurm ...`, "
        "`clusters update NAME [--title T] [--config KEY=VALUE ...]`, `clusters list`, "
        "`clusters partition NAME PART ...`, `clusters account NAME --user EMAIL --username U`, "
        "`clusters sync NAME`."
    )

    def add_arguments(self, parser):
        cli_clusters.add_arguments(parser)

    def handle(self, *args, action: str, **options):
        with translation.override("en"):
            cli_clusters.handle(action, {**options, "stdout": self.stdout, "stderr": self.stderr})
