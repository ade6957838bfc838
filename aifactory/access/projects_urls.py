"""Pages of the projects (composed into the access app's urls.py)."""

from django.urls import path

from . import projects_views as views

PROJECT = "projects/<slug:code>/"
CHANGE = PROJECT + "change-requests/<uuid:change_id>/"
MEMBER = PROJECT + "members/<uuid:user_id>/"

urlpatterns: list = [
    path("projects/", views.project_list, name="project_list"),
    path("access/change-requests/", views.change_request_queue, name="change_request_queue"),
    path(PROJECT, views.project_detail, name="project_detail"),
    path(PROJECT + "change-requests/", views.change_request_create, name="change_request_create"),
    path(CHANGE + "approve/", views.change_request_approve, name="change_request_approve"),
    path(CHANGE + "refuse/", views.change_request_refuse, name="change_request_refuse"),
    path(PROJECT + "members/", views.project_member_add, name="project_member_add"),
    path(MEMBER + "role/", views.project_member_role, name="project_member_role"),
    path(MEMBER + "remove/", views.project_member_remove, name="project_member_remove"),
]
