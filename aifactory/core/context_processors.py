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
        "can_review": allowed(user, "review.list_mine"),
        # Jobs: members of a project (through the reverse relation, so core imports no app) and
        # operators; the clusters page is the operators'.
        "can_view_jobs": allowed(user, "job.list_all")
        or (user.is_authenticated and user.project_memberships.exists()),
        "can_manage_clusters": allowed(user, "cluster.manage"),
        "can_manage_harvest": allowed(user, "harvest.manage"),
        "staff_role": getattr(user, "staff_role", "") if user.is_authenticated else "",
    }
