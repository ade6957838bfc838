"""Pages of the data app, by topic."""

from django.urls import include, path

urlpatterns = [
    path("", include("aifactory.data.datasets_urls")),
    path("", include("aifactory.data.requests_urls")),
    path("", include("aifactory.data.harvest_urls")),
]
