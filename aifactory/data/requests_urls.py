"""Pages of access to data: requests and their decisions, grants, the access log, downloads,
previews and the SQL query page (composed into the data app's urls.py)."""

from django.urls import path

from . import requests_views as views

app_name = "data_requests"

DATASET = "datasets/<slug:slug>/"
FILE = DATASET + "v/<int:number>/files/<str:name>"
REQUEST = "data/requests/<uuid:pk>/"

urlpatterns: list = [
    path(DATASET + "access/request/", views.request_create, name="request_create"),
    path(DATASET + "access/grants/", views.grant_list, name="grant_list"),
    path(DATASET + "access/log/", views.access_log, name="access_log"),
    path(FILE, views.download, name="download"),
    path(FILE + "/preview/", views.preview, name="preview"),
    path("data/requests/", views.request_list, name="request_list"),
    path("data/requests/inbox/", views.inbox, name="inbox"),
    path(REQUEST, views.request_detail, name="request_detail"),
    path(REQUEST + "withdraw/", views.request_withdraw, name="request_withdraw"),
    path(REQUEST + "approve/", views.request_approve, name="request_approve"),
    path(REQUEST + "refuse/", views.request_refuse, name="request_refuse"),
    path("data/grants/<uuid:pk>/revoke/", views.grant_revoke, name="grant_revoke"),
    path("data/query/", views.query, name="query"),
]
