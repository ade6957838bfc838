from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse

from aifactory.core.htmx import redirect_to

from . import services

# What a person needs before accepting: getting in and out, the terms page itself, and the
# machinery. The API answers for itself (403 problem+json, see aifactory/api.py), as it must
# also check bearer tokens, which are read after the middleware runs.
EXEMPT_PREFIXES = (
    "/accounts/login/",
    "/accounts/logout/",
    "/accounts/signup/",
    "/accounts/verify/",
    "/accounts/password-reset/",
    "/accounts/terms/",
    "/static/",
    "/i18n/",
    "/oidc/",
    "/healthz",
    "/readyz",
    "/api/",
)


class TermsMiddleware:
    """Signed-in people who have not accepted the current terms of use are sent to accept them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if (
            user.is_authenticated
            and not request.path.startswith(EXEMPT_PREFIXES)
            and request.session.get("terms_ok") != settings.TERMS_VERSION
        ):
            if not services.terms_accepted(user):
                target = (
                    f"{reverse('accounts:terms')}?{urlencode({'next': request.get_full_path()})}"
                )
                return redirect_to(request, target)
            request.session["terms_ok"] = settings.TERMS_VERSION
        return self.get_response(request)
