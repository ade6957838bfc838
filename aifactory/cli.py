"""The ``aifactory`` command: our own subcommands plus every Django management command.

Subcommands are management commands, so ``aifactory seed-demo`` and ``aifactory migrate`` go the same
way; dashes in the name are accepted for underscores.
"""

import os
import sys


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aifactory.settings")
    if len(argv) > 1 and not argv[1].startswith("-"):
        argv[1] = argv[1].replace("-", "_")
    argv[0] = "aifactory"
    from django.core.management import execute_from_command_line

    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
