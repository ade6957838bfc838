"""Pages of datasets (the data app's "data" namespace)."""

from django.urls import path

from . import datasets_views as views
from . import quality_views

app_name = "data"

DATASET = "datasets/<slug:slug>/"

urlpatterns = [
    path("datasets/", views.dataset_list, name="dataset_list"),
    path("datasets/new/", views.dataset_new, name="dataset_new"),
    path(DATASET, views.dataset_detail, name="dataset_detail"),
    path(DATASET + "edit/", views.dataset_edit, name="dataset_edit"),
    path(DATASET + "versions/new/", views.version_new, name="version_new"),
    path(DATASET + "publish/", views.dataset_publish, name="dataset_publish"),
    path(DATASET + "archive/", views.dataset_archive, name="dataset_archive"),
    # The schema and checks page (quality_views.py, helper "quality").
    path(DATASET + "quality/", quality_views.dataset_quality_edit, name="dataset_quality_edit"),
]
