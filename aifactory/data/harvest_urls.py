"""Pages of harvesting (operators)."""

from django.urls import path

from . import harvest_views as views

app_name = "data_harvest"

SOURCE = "harvest/sources/<slug:name>/"

urlpatterns = [
    path("harvest/sources/", views.source_list, name="source_list"),
    path("harvest/sources/new/", views.source_new, name="source_new"),
    path(SOURCE + "edit/", views.source_edit, name="source_edit"),
    path(SOURCE + "run/", views.source_run, name="source_run"),
    path(SOURCE + "runs/", views.source_runs, name="source_runs"),
]
