import json

from django.conf import settings
from oauth2_provider.oauth2_validators import OAuth2Validator


def people() -> dict[str, dict]:
    """The test people, written by the test fixture: {username: {"password": ..., "claims": {...}}}."""
    return json.loads((settings.DATA_DIR / "people.json").read_text())


class ClaimsValidator(OAuth2Validator):
    """Releases each person's claims exactly as the test wrote them, `email_verified` included.

    django-oauth-toolkit only sends `sub` by default; real providers (Keycloak, MyAccessID) send
    e-mail, its verification flag and names, filtered by the scopes granted.
    """

    def get_additional_claims(self, request):
        return dict(people()[request.user.username]["claims"])
