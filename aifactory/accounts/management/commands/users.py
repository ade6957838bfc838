import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from aifactory.accounts import services
from aifactory.core.errors import field_errors
from aifactory.core.roles import StaffRole


class Command(BaseCommand):
    help = "Manage people: `users create EMAIL [--role ROLE] [--password-stdin]`."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a person (e-mail counted as verified)")
        create.add_argument("email")
        create.add_argument(
            "--role",
            default="",
            choices=[r for r in StaffRole.values if r],
            help="staff role of the factory",
        )
        create.add_argument(
            "--password-stdin", action="store_true", help="read the password from standard input"
        )
        create.add_argument("--first-name", default="")
        create.add_argument("--last-name", default="")

    def handle(self, *args, action: str, **options):
        password = None
        if options["password_stdin"]:
            password = sys.stdin.readline().rstrip("\n")
            if not password:
                raise CommandError("password: nothing was given on standard input")
        try:
            user = services.user_create(
                email=options["email"],
                password=password,
                staff_role=options["role"],
                first_name=options["first_name"],
                last_name=options["last_name"],
                email_verified=True,
            )
            services.terms_accept(user=user)
        except ValidationError as exc:
            raise CommandError(_format(exc)) from None
        self.stdout.write(
            f"created {user.email}" + (f" ({user.staff_role})" if user.staff_role else "")
        )


def _format(exc: ValidationError) -> str:
    return "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in field_errors(exc).items())
