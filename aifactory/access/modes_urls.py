from django.urls import path

from . import modes_views as views

urlpatterns = [
    path("access/", views.modes_page, name="modes"),
    path("access/manage/", views.manage, name="manage"),
    path("access/modes/new/", views.mode_create, name="mode_create"),
    path("access/modes/<slug:code>/edit/", views.mode_edit, name="mode_edit"),
    path("access/pools/new/", views.pool_create, name="pool_create"),
    path("access/pools/<slug:code>/", views.pool_detail, name="pool_detail"),
    path("access/pools/<slug:code>/edit/", views.pool_edit, name="pool_edit"),
    path("access/calls/new/", views.call_create, name="call_create"),
    path("access/calls/<slug:code>/edit/", views.call_edit, name="call_edit"),
    path("access/calls/<slug:code>/open/", views.call_open, name="call_open"),
    path("access/calls/<slug:code>/close/", views.call_close, name="call_close"),
]
