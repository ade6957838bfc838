from django.urls import path

from . import organisation_views as org
from . import views

app_name = "accounts"

urlpatterns = [
    path("accounts/signup/", views.signup, name="signup"),
    path("accounts/signup/done/", views.signup_done, name="signup_done"),
    path("accounts/verify/resend/", views.verify_resend, name="verify_resend"),
    path("accounts/verify/<str:token>/", views.verify, name="verify"),
    path("accounts/login/", views.login_view, name="login"),
    path("accounts/logout/", views.logout_view, name="logout"),
    path("accounts/password-reset/", views.password_reset, name="password_reset"),
    path("accounts/password-reset/sent/", views.password_reset_done, name="password_reset_done"),
    path(
        "accounts/password-reset/<uidb64>/<token>/",
        views.password_reset_confirm,
        name="password_reset_confirm",
    ),
    path(
        "accounts/password-reset/done/",
        views.password_reset_complete,
        name="password_reset_complete",
    ),
    path("accounts/terms/", views.terms, name="terms"),
    path("accounts/settings/", views.settings_view, name="settings"),
    path("accounts/tokens/", views.tokens, name="tokens"),
    path("accounts/tokens/new/", views.token_create, name="token_create"),
    path("accounts/tokens/<uuid:token_id>/revoke/", views.token_revoke, name="token_revoke"),
    path("organisations/", org.organisation_list, name="organisation_list"),
    path("organisations/new/", org.organisation_create, name="organisation_create"),
    path(
        "organisations/<uuid:organisation_id>/", org.organisation_detail, name="organisation_detail"
    ),
    path(
        "organisations/<uuid:organisation_id>/edit/",
        org.organisation_edit,
        name="organisation_edit",
    ),
    path("organisations/<uuid:organisation_id>/members/", org.members, name="members"),
    path(
        "organisations/<uuid:organisation_id>/members/<uuid:membership_id>/role/",
        org.member_role,
        name="member_role",
    ),
    path(
        "organisations/<uuid:organisation_id>/members/<uuid:membership_id>/remove/",
        org.member_remove,
        name="member_remove",
    ),
    path(
        "organisations/<uuid:organisation_id>/leave/",
        org.organisation_leave,
        name="organisation_leave",
    ),
    path(
        "organisations/<uuid:organisation_id>/invitations/",
        org.invitation_create,
        name="invitation_create",
    ),
    path(
        "organisations/<uuid:organisation_id>/invitations/<uuid:invitation_id>/revoke/",
        org.invitation_revoke,
        name="invitation_revoke",
    ),
    path(
        "invitations/<uuid:invitation_id>/accept/", org.invitation_accept, name="invitation_accept"
    ),
    path("invitations/<str:token>/", org.invitation_page, name="invitation"),
]
