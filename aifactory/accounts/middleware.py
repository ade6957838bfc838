from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse

from aifactory.core.htmx import redirect_to

from . import services

EXEMPT_PREFIXES = (
    "/accounts/",
    "/terms/",
    "/static/",
    "/api/",
    "/healthz",
    "/readyz",
    "/i18n/",
    "/oidc/",
)


class TermsMiddleware:
    """Signed-in people who have not accepted the current terms of use are sent to accept them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if (
            user.is_authenticated
            and request.path != "/"
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
