from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from aifactory.accounts.demo import DEMO_PASSWORD, PEOPLE, seed_demo
from aifactory.core.demo import run_loaders


class Command(BaseCommand):
    help = "Load the demo organisations, people and catalogue (idempotent). Refused in production."

    def add_arguments(self, parser):
        parser.add_argument(
            "--force",
            action="store_true",
            help="load it even in production (it creates an administrator with a public password)",
        )

    def handle(self, *args, force: bool, **options):
        if settings.PRODUCTION and not force:
            raise CommandError(
                "refusing to load the demo data in production (AIFACTORY_ENV=production): it "
                "creates an administrator and other accounts whose password is published. "
                "Pass --force if you really mean it."
            )
        result = seed_demo()
        warnings = result.pop("warnings")
        self.stdout.write("demo data: " + ", ".join(f"{n} {k} created" for k, n in result.items()))
        for warning in warnings:
            self.stderr.write(self.style.WARNING(f"warning: demo {warning}"))
        # The other apps' demo data (the catalogue...), registered in their AppConfig.ready.
        for line in run_loaders():
            self.stdout.write(line)
        self.stdout.write(f"demo logins (password for all: {DEMO_PASSWORD}):")
        for email, _first, _last, role, orgs in PEOPLE:
            what = role or ", ".join(sorted({r for r in orgs.values()}))
            self.stdout.write(f"  {email:32} {what}")
