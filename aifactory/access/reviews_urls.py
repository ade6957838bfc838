"""Pages of reviews and decisions (composed into the access app's urls.py)."""

from django.urls import path

from . import reviews_views as views

APP = "access/applications/<uuid:application_id>/"
REVIEW = "access/reviews/<uuid:review_id>/"

urlpatterns: list = [
    path("access/reviews/", views.review_list, name="review_list"),
    path(REVIEW, views.review_detail, name="review_detail"),
    path(REVIEW + "conflict/", views.review_conflict, name="review_conflict"),
    path(REVIEW + "submit/", views.review_submit, name="review_submit"),
    path(REVIEW + "unassign/", views.review_unassign, name="review_unassign"),
    path(APP + "technical/", views.application_technical, name="application_technical"),
    path(APP + "reviewers/", views.application_reviewer_assign, name="application_reviewer_assign"),
    path(APP + "decide/", views.application_decide, name="application_decide"),
    path("access/calls/<slug:code>/ranking/", views.call_ranking, name="call_ranking"),
]
