from django.contrib import admin
from django.urls import include, path

from .api import api

urlpatterns = [
    path("", include("aifactory.core.urls")),
    path("", include("aifactory.accounts.urls")),
    path("", include("aifactory.catalog.urls")),
    path("", include("aifactory.advisor.urls")),
    path("", include("aifactory.access.urls")),
    path("", include("aifactory.compute.urls")),
    path("", include("aifactory.data.urls")),
    path("api/v1/", api.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    # Always routed; the views answer 404 while OIDC_ENABLED is off.
    path("oidc/", include("aifactory.accounts.oidc")),
]
