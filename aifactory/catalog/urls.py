from django.urls import path

from . import views

app_name = "catalog"

# The fixed paths come first: an offering's external id could otherwise shadow them.
urlpatterns = [
    path("match/", views.match_page, name="match"),
    path("catalog/", views.browse, name="browse"),
    path("catalog/mine/", views.mine, name="mine"),
    path("catalog/new/", views.create, name="create"),
    path("catalog/review/", views.review, name="review"),
    path("catalog/<str:external_id>/", views.detail, name="detail"),
    path("catalog/<str:external_id>/edit/", views.edit, name="edit"),
    path("catalog/<str:external_id>/submit/", views.submit, name="submit"),
    path("catalog/<str:external_id>/archive/", views.archive, name="archive"),
    path("catalog/<str:external_id>/restore/", views.restore, name="restore"),
    path("catalog/<str:external_id>/approve/", views.approve, name="approve"),
    path("catalog/<str:external_id>/reject/", views.reject, name="reject"),
]
