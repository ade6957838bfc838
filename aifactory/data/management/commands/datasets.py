"""`aifactory datasets add|list|show|publish|archive`: see aifactory/data/cli_datasets.py."""

from django.core.management.base import BaseCommand
from django.utils import translation

from aifactory.data import cli_datasets


class Command(BaseCommand):
    help = (
        "Datasets: `datasets add FILE... --title T --org ORG [--slug S] [--access RIGHTS] "
        "[--note N] [--publish] [--user EMAIL]` (or `--dataset SLUG` for a new version), "
        "`datasets list [--json]`, `datasets show SLUG [--json]`, `datasets publish SLUG`, "
        "`datasets archive SLUG`."
    )

    def add_arguments(self, parser):
        cli_datasets.add_arguments(parser)

    def handle(self, *args, action: str, **options):
        with translation.override("en"):
            cli_datasets.handle(action, {**options, "stdout": self.stdout, "stderr": self.stderr})
