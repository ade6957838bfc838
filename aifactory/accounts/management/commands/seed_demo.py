from django.core.management.base import BaseCommand

from aifactory.accounts.demo import DEMO_PASSWORD, PEOPLE, seed_demo


class Command(BaseCommand):
    help = "Load the demo organisations and people (idempotent)."

    def handle(self, *args, **options):
        created = seed_demo()
        self.stdout.write("demo data: " + ", ".join(f"{n} {k} created" for k, n in created.items()))
        self.stdout.write(f"demo logins (password for all: {DEMO_PASSWORD}):")
        for email, _first, _last, role, orgs in PEOPLE:
            what = role or ", ".join(sorted({r for r in orgs.values()}))
            self.stdout.write(f"  {email:32} {what}")
