"""`aifactory dcat export [--format ttl|jsonld] [--output FILE]`: see aifactory/data/cli_dcat.py."""

from django.core.management.base import BaseCommand
from django.utils import translation

from aifactory.data import cli_dcat


class Command(BaseCommand):
    help = (
        "The data catalogue as DCAT-AP 3: `dcat export [--format ttl|jsonld] [--output FILE]` "
        "(what an anonymous visitor sees)."
    )

    def add_arguments(self, parser):
        cli_dcat.add_arguments(parser)

    def handle(self, *args, action: str, **options):
        with translation.override("en"):
            cli_dcat.handle(action, {**options, "stdout": self.stdout, "stderr": self.stderr})
