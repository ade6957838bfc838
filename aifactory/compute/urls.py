"""Pages of the compute app: jobs, a project's usage, the operators' clusters."""

from django.urls import path

from . import views

app_name = "compute"

JOB = "jobs/<str:ref>/"
CLUSTER = "clusters/<slug:name>/"

urlpatterns = [
    path("jobs/", views.job_list, name="job_list"),
    path("jobs/new/", views.job_new, name="job_new"),
    path(JOB, views.job_detail, name="job_detail"),
    path(JOB + "status/", views.job_status, name="job_status"),
    path(JOB + "cancel/", views.job_cancel, name="job_cancel"),
    path(JOB + "resubmit/", views.job_resubmit, name="job_resubmit"),
    path("projects/<slug:code>/usage/", views.project_usage, name="project_usage"),
    path("projects/<slug:code>/usage.csv", views.project_usage_csv, name="project_usage_csv"),
    path("clusters/", views.cluster_list, name="cluster_list"),
    path("clusters/new/", views.cluster_new, name="cluster_new"),
    path(CLUSTER + "edit/", views.cluster_edit, name="cluster_edit"),
    path(CLUSTER + "partitions/new/", views.partition_edit, name="partition_new"),
    path(
        CLUSTER + "partitions/<slug:partition>/edit/", views.partition_edit, name="partition_edit"
    ),
    path(CLUSTER + "accounts/", views.cluster_accounts, name="cluster_accounts"),
]
