from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from aifactory.accounts import selectors, services
from aifactory.accounts.models import User
from aifactory.core.errors import ServiceError

from .users import _format


class Command(BaseCommand):
    help = "Manage API tokens: `tokens create EMAIL [--expires DAYS]`, `tokens list EMAIL`, `tokens revoke EMAIL ID`."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a token and print it once")
        create.add_argument("email")
        create.add_argument(
            "--expires", type=int, default=90, metavar="DAYS", help="days until it expires"
        )
        create.add_argument("--name", default="cli")
        listing = sub.add_parser("list", help="list a person's tokens")
        listing.add_argument("email")
        revoke = sub.add_parser("revoke", help="revoke a token")
        revoke.add_argument("email")
        revoke.add_argument("token_id")

    def handle(self, *args, action: str, email: str, **options):
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            raise CommandError(f"email: no person with the address {email}")
        try:
            if action == "create":
                token, secret = services.token_create(
                    user=user, name=options["name"], expires_in_days=options["expires"]
                )
                self.stdout.write(secret)
                self.stderr.write(
                    f"token {token.prefix}… expires {token.expires_at:%Y-%m-%d}; "
                    "it is shown only this once"
                )
            elif action == "list":
                for token in selectors.tokens_of(user):
                    state = (
                        "active"
                        if token.is_active
                        else ("revoked" if token.revoked_at else "expired")
                    )
                    self.stdout.write(f"{token.pk}  {token.prefix}…  {token.name:20} {state}")
            elif action == "revoke":
                try:
                    token = selectors.token_get(user, options["token_id"])
                except Exception:
                    raise CommandError(
                        f"token_id: no token {options['token_id']} for {email}"
                    ) from None
                services.token_revoke(user=user, token=token)
                self.stdout.write(f"revoked {token.prefix}…")
        except ValidationError as exc:
            raise CommandError(_format(exc)) from None
        except ServiceError as exc:
            raise CommandError(exc.message) from None
