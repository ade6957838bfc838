"""Django's admin site as a read-only window for administrators.

Every change of state goes through the services (portal, API, `aifactory` command), which check
permissions and write the audit log; the admin site only shows what is there.
"""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from .permissions import allowed


class HubAdminSite(admin.AdminSite):
    site_header = _("AI Factory Hub administration (read-only)")
    site_title = _("AI Factory Hub administration")
    index_title = _("Read-only: changes are made in the portal, the API or the aifactory command")

    def has_permission(self, request):
        return allowed(request.user, "admin.view")

    def login(self, request, extra_context=None):
        """Sign-in goes through the portal's own page, with its lock-out and terms check."""
        # Imported here: this module is loaded with the app registry, before models exist.
        from django.contrib.auth.views import redirect_to_login

        if self.has_permission(request):
            return redirect("admin:index")
        if request.user.is_authenticated:
            raise PermissionDenied("admin.view")
        return redirect_to_login(
            request.GET.get("next") or reverse("admin:index"), reverse("accounts:login")
        )

    def password_change(self, request, extra_context=None):
        """Passwords are changed in the portal, where the change is audited."""
        return redirect("accounts:settings")


class HubAdminConfig(AdminConfig):
    default_site = "aifactory.core.admin_site.HubAdminSite"
