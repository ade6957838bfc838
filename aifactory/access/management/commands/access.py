"""`aifactory access ...`: the access app's command, for operators with server access.

One command for the whole app, with a small registry so each part adds its own subcommands:
a module ``aifactory.access.cli_<part>`` (modes, applications, projects) may expose

- ``add_subcommands(subparsers)``: add its subcommands to the argparse subparsers (``dest`` of the
  first level is ``command``; a part that wants a second level uses ``dest="action"``);
- ``handle(command, action, options) -> bool``: run it and return True when it was its own.
  ``action`` is None without a second level; ``options`` holds the parsed options plus
  ``stdout`` and ``stderr`` (Django's output wrappers) to write to.

The command acts as the system (``actor=None`` in the services). A ValidationError or ServiceError
from a service becomes a CommandError (exit status 1) naming the field.
"""

import importlib

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from aifactory.core.errors import ServiceError, field_errors

PARTS = ("modes", "applications", "projects", "reviews")


def plugins() -> list:
    """The parts' CLI modules that exist; a part not written yet is simply left out."""
    found = []
    for part in PARTS:
        name = f"aifactory.access.cli_{part}"
        try:
            found.append(importlib.import_module(name))
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a broken import inside the module is a real error
                raise
    return found


class Command(BaseCommand):
    help = (
        "Compute access: `access modes`, `access calls [--open]`, `access pools` "
        "(each with --json), and the subcommands of applications, projects, reviews and "
        "decisions."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="command", required=True)
        for plugin in plugins():
            plugin.add_subcommands(sub)

    def handle(self, *args, command: str, **options):
        options = {**options, "stdout": self.stdout, "stderr": self.stderr}
        action = options.get("action")
        try:
            for plugin in plugins():
                if plugin.handle(command, action, options):
                    return
        except ValidationError as exc:
            raise CommandError(
                "; ".join(f"{f}: {' '.join(m)}" for f, m in field_errors(exc).items())
            ) from None
        except ServiceError as exc:
            prefix = f"{exc.field}: " if exc.field else ""
            raise CommandError(prefix + exc.message) from None
        raise CommandError(f"unknown subcommand: {command}")
