"""`aifactory users`: people and staff roles, for operators with server access.

The command acts as the system (``actor=None`` in the services): whoever can run it can read the
server's settings and database anyway. Every change is audited as made by "system".
"""

import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from aifactory.accounts import services
from aifactory.accounts.models import User
from aifactory.core.errors import ServiceError, field_errors
from aifactory.core.roles import StaffRole

ROLES = [r for r in StaffRole.values if r]
NO_ROLE = "none"


class Command(BaseCommand):
    help = (
        "Manage people: `users create EMAIL [--role ROLE] [--password-stdin]`, "
        "`users set-role EMAIL ROLE|none`, `users deactivate EMAIL`, `users reactivate EMAIL`, "
        "`users list [--staff]`."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a person (e-mail counted as verified)")
        create.add_argument("email")
        create.add_argument("--role", default="", choices=ROLES, help="staff role of the factory")
        create.add_argument(
            "--password-stdin", action="store_true", help="read the password from standard input"
        )
        create.add_argument("--first-name", default="")
        create.add_argument("--last-name", default="")

        set_role = sub.add_parser(
            "set-role", aliases=["set_role"], help="give a staff role, or take it with `none`"
        )
        set_role.add_argument("email")
        set_role.add_argument("role", choices=[*ROLES, NO_ROLE])

        deactivate = sub.add_parser(
            "deactivate", help="stop a person signing in; their API tokens stop working"
        )
        deactivate.add_argument("email")
        reactivate = sub.add_parser("reactivate", help="let a deactivated person sign in again")
        reactivate.add_argument("email")

        listing = sub.add_parser("list", help="list people")
        listing.add_argument("--staff", action="store_true", help="only the factory's staff")

    def handle(self, *args, action: str, **options):
        action = action.replace("_", "-")
        try:
            if action == "create":
                self.create(**options)
            elif action == "list":
                self.list_people(staff=options["staff"])
            else:
                user = User.objects.filter(email__iexact=options["email"].strip()).first()
                if user is None:
                    raise CommandError(f"email: no person with the address {options['email']}")
                if action == "set-role":
                    self.set_role(user, options["role"])
                elif action == "deactivate":
                    services.user_deactivate(actor=None, user=user)
                    self.stdout.write(f"deactivated {user.email}")
                elif action == "reactivate":
                    services.user_reactivate(actor=None, user=user)
                    self.stdout.write(f"reactivated {user.email}")
        except ValidationError as exc:
            raise CommandError(_format(exc)) from None
        except ServiceError as exc:
            raise CommandError(
                f"{exc.field}: {exc.message}" if exc.field else exc.message
            ) from None

    def create(self, **options):
        password = None
        if options["password_stdin"]:
            password = sys.stdin.readline().rstrip("\n")
            if not password:
                raise CommandError("password: nothing was given on standard input")
        # The terms are not accepted on the person's behalf: they accept at their first sign-in.
        user = services.user_create(
            email=options["email"],
            password=password,
            staff_role=options["role"],
            first_name=options["first_name"],
            last_name=options["last_name"],
            email_verified=True,
        )
        self.stdout.write(
            f"created {user.email}" + (f" ({user.staff_role})" if user.staff_role else "")
        )

    def set_role(self, user: User, role: str):
        before = user.staff_role or NO_ROLE
        user = services.user_set_staff_role(
            actor=None, user=user, staff_role="" if role == NO_ROLE else role
        )
        after = user.staff_role or NO_ROLE
        if before == after:
            self.stdout.write(f"{user.email} is {after} already; nothing changed")
        else:
            self.stdout.write(f"{user.email}: staff role {before} → {after}")

    def list_people(self, *, staff: bool):
        people = User.objects.order_by("email")
        if staff:
            people = people.exclude(staff_role="")
        for user in people:
            state = "active" if user.is_active else "deactivated"
            flags = " demo" if user.is_demo else ""
            self.stdout.write(
                f"{user.email:40} {user.staff_role or '-':14} {state}{flags}".rstrip()
            )


def _format(exc: ValidationError) -> str:
    return "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in field_errors(exc).items())
