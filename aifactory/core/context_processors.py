from django.conf import settings

from .permissions import allowed


def site(request):
    user = request.user
    return {
        "OIDC_ENABLED": settings.OIDC_ENABLED,
        "OIDC_PROVIDER_NAME": settings.OIDC_PROVIDER_NAME,
        "can_view_audit": allowed(user, "audit.view"),
        "can_view_admin": allowed(user, "admin.view"),
        "can_view_inbox": allowed(user, "case.list_all"),
        "staff_role": getattr(user, "staff_role", "") if user.is_authenticated else "",
    }
