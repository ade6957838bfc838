from django.contrib import admin

from .models import AuditEvent, WorkerHeartbeat
from .permissions import allowed


class ReadOnlyAdmin(admin.ModelAdmin):
    """View only: state changes go through the services, which check and audit them."""

    actions = None
    list_per_page = 50

    def has_module_permission(self, request):
        return allowed(request.user, "admin.view")

    def has_view_permission(self, request, obj=None):
        return allowed(request.user, "admin.view")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "actor_repr", "action", "object_type", "object_repr")
    list_filter = ("object_type", "action")
    search_fields = ("actor_repr", "action", "object_repr", "object_id")
    date_hierarchy = "created_at"
    fields = (
        "created_at",
        "actor_repr",
        "action",
        "object_type",
        "object_id",
        "object_repr",
        "organisation_id",
        "changes",
    )


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(ReadOnlyAdmin):
    list_display = ("worker_id", "hostname", "pid", "started_at", "seen_at")
    search_fields = ("worker_id", "hostname")
    ordering = ("-seen_at",)
