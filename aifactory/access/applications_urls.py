"""Pages of the applications (composed into the access app's urls.py)."""

from django.urls import path

from . import applications_views as views

APP = "access/applications/<uuid:application_id>/"

urlpatterns: list = [
    path("access/applications/", views.application_list, name="application_list"),
    path("access/applications/new/", views.application_start, name="application_start"),
    path("access/queue/", views.application_queue, name="application_queue"),
    path(APP, views.application_detail, name="application_detail"),
    path(APP + "submit/", views.application_submit, name="application_submit"),
    path(APP + "withdraw/", views.application_withdraw, name="application_withdraw"),
    path(APP + "members/", views.application_member_add, name="application_member_add"),
    path(
        APP + "members/<uuid:member_id>/remove/",
        views.application_member_remove,
        name="application_member_remove",
    ),
    path(APP + "attachments/", views.application_attachment_add, name="application_attachment_add"),
    path(
        APP + "attachments/<uuid:attachment_id>/",
        views.application_attachment,
        name="application_attachment",
    ),
    path(APP + "eligibility/", views.application_eligibility, name="application_eligibility"),
    path(APP + "revision/", views.application_revision, name="application_revision"),
]
