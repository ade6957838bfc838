from django.contrib import admin

from aifactory.core.admin import ReadOnlyAdmin

from .models import Offering


@admin.register(Offering)
class OfferingAdmin(ReadOnlyAdmin):
    list_display = ("external_id", "display_title", "type", "status", "provider_name", "is_demo")
    list_filter = ("status", "type", "is_demo")
    search_fields = ("external_id", "provider_name", "search_text")
    list_select_related = ("provider_organisation",)
    exclude = ("search_text",)
