"""Pages of the readiness assessment (composed into the advisor app's urls.py)."""

from django.urls import path

from . import readiness_views as views

ASSESSMENT = "readiness/<uuid:assessment_id>/"
ORGANISATION = "readiness/organisations/<uuid:organisation_id>/"

urlpatterns: list = [
    path("readiness/", views.readiness_index, name="readiness_index"),
    path(ORGANISATION, views.readiness_organisation, name="readiness_organisation"),
    path(ORGANISATION + "start/", views.readiness_start, name="readiness_start"),
    path(ASSESSMENT, views.readiness_detail, name="readiness_detail"),
    path(ASSESSMENT + "answers/", views.readiness_save, name="readiness_save"),
    path(ASSESSMENT + "print/", views.readiness_print, name="readiness_print"),
    path(ASSESSMENT + "chart.svg", views.readiness_chart, name="readiness_chart"),
]
