"""Pages of the support cases (composed into the advisor app's urls.py)."""

from django.urls import path

from . import case_views as views

CASE = "cases/<uuid:case_id>/"

urlpatterns: list = [
    path("cases/", views.case_list, name="case_list"),
    path("cases/new/", views.case_create, name="case_create"),
    path(CASE, views.case_detail, name="case_detail"),
    path(CASE + "messages/", views.case_message, name="case_message"),
    path(CASE + "notes/", views.case_note, name="case_note"),
    path(CASE + "status/", views.case_status, name="case_status"),
    path(CASE + "assign/", views.case_assign, name="case_assign"),
    path(CASE + "triage/", views.case_triage, name="case_triage"),
    path(CASE + "offerings/", views.case_link, name="case_link"),
    path(CASE + "offerings/<uuid:offering_id>/unlink/", views.case_unlink, name="case_unlink"),
    path("advisor/inbox/", views.inbox, name="inbox"),
]
