from django.contrib import admin
from django.contrib.auth.models import Group
from django.db import models

from aifactory.core.admin import ReadOnlyAdmin

from .models import (
    ApiToken,
    Invitation,
    LoginFailure,
    Membership,
    Organisation,
    TermsAcceptance,
    User,
)

# Roles live in core.permissions, not in Django groups; an editable Group page would mislead.
admin.site.unregister(Group)


@admin.register(User)
class UserAdmin(ReadOnlyAdmin):
    list_display = (
        "email",
        "first_name",
        "last_name",
        "staff_role",
        "is_active",
        "email_verified",
        "is_demo",
        "last_login",
    )
    list_filter = ("staff_role", "is_active", "email_verified", "is_demo")
    search_fields = ("email", "first_name", "last_name")
    # Never the password hash; groups and permissions are unused.
    fields = (
        "email",
        "first_name",
        "last_name",
        "staff_role",
        "is_active",
        "email_verified",
        "verification_sent_at",
        "preferred_language",
        "is_demo",
        "date_joined",
        "last_login",
    )


class MembershipInline(admin.TabularInline):
    model = Membership
    fields = ("user", "role", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Organisation)
class OrganisationAdmin(ReadOnlyAdmin):
    list_display = (
        "legal_name",
        "country",
        "kind",
        "size_class",
        "registration_number",
        "is_demo",
        "created_at",
    )
    list_filter = ("kind", "size_class", "country", "is_demo")
    search_fields = ("legal_name", "registration_number", "vat_number", "city")
    inlines = [MembershipInline]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


@admin.register(Membership)
class MembershipAdmin(ReadOnlyAdmin):
    list_display = ("organisation", "user", "role", "created_at")
    list_filter = ("role",)
    search_fields = ("organisation__legal_name", "user__email")
    list_select_related = ("organisation", "user")


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyAdmin):
    list_display = ("email", "organisation", "role", "status", "expires_at", "invited_by")
    list_filter = ("status", "role")
    search_fields = ("email", "organisation__legal_name")
    list_select_related = ("organisation", "invited_by")
    exclude = ("token_hash",)


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    list_display = ("user", "name", "prefix", "expires_at", "last_used_at", "revoked_at")
    search_fields = ("user__email", "name", "prefix")
    list_select_related = ("user",)
    # The prefix identifies a token; its hash is never shown.
    fields = ("user", "name", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at")


@admin.register(TermsAcceptance)
class TermsAcceptanceAdmin(ReadOnlyAdmin):
    list_display = ("user", "version", "accepted_at")
    list_filter = ("version",)
    search_fields = ("user__email",)
    list_select_related = ("user",)


@admin.register(LoginFailure)
class LoginFailureAdmin(ReadOnlyAdmin):
    list_display = ("email", "ip_address", "created_at")
    search_fields = ("email", "ip_address")
    date_hierarchy = "created_at"
