"""Pages for people: sign-up, sign-in, terms, settings and API tokens.

Views only read input, call a service or selector and pick a template; organisation pages live in
``organisation_views``.
"""

import math

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from aifactory.core.forms import call_service
from aifactory.core.htmx import redirect_to, render_fragment

from . import selectors, services
from .forms import (
    EmailForm,
    LoginForm,
    PasswordEmailForm,
    PasswordSetForm,
    ProfileForm,
    SignUpForm,
    TokenForm,
)


def client_ip(request) -> str:
    return request.META.get("REMOTE_ADDR", "") or ""


def safe_next(request, default: str = "") -> str:
    """The ?next= target if it stays on this site, else the default (or the dashboard)."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default or reverse(settings.LOGIN_REDIRECT_URL)


def set_language_cookie(response, language: str):
    """Make the person's preferred language the active one from the next request on."""
    if language:
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            language,
            max_age=settings.LANGUAGE_COOKIE_AGE,
            path=settings.LANGUAGE_COOKIE_PATH,
            domain=settings.LANGUAGE_COOKIE_DOMAIN,
            secure=settings.LANGUAGE_COOKIE_SECURE,
            httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
            samesite=settings.LANGUAGE_COOKIE_SAMESITE,
        )
    return response


# --- sign-up and e-mail verification -----------------------------------------------------------


@sensitive_post_parameters("password", "password2")
@never_cache
@require_http_methods(["GET", "POST"])
def signup(request):
    if request.user.is_authenticated:
        return redirect("core:dashboard")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        ok, user = call_service(
            request,
            services.user_sign_up,
            form=form,
            email=data["email"],
            password=data["password"],
            first_name=data["first_name"],
            last_name=data["last_name"],
            accept_terms=data["accept_terms"],
        )
        if ok:
            request.session["signup_email"] = user.email
            return redirect("accounts:signup_done")
    return render(request, "accounts/signup.html", {"form": form})


@require_http_methods(["GET"])
def signup_done(request):
    email = request.session.get("signup_email", "")
    return render(
        request,
        "accounts/check_mailbox.html",
        {"email": email, "form": EmailForm(initial={"email": email})},
    )


@never_cache
@require_http_methods(["GET"])
def verify(request, token):
    ok, user = call_service(request, services.user_verify_email, token=token)
    if not ok:
        return render(request, "accounts/verify_failed.html", {"form": EmailForm()}, status=400)
    return render(request, "accounts/verified.html", {"verified_user": user})


@require_POST
def verify_resend(request):
    form = EmailForm(request.POST)
    if not form.is_valid():
        return render(request, "accounts/verify_failed.html", {"form": form}, status=400)
    services.verification_resend(email=form.cleaned_data["email"])
    return render(
        request,
        "accounts/check_mailbox.html",
        {"email": form.cleaned_data["email"], "resent": True, "form": EmailForm()},
    )


# --- sign-in and sign-out ----------------------------------------------------------------------


def _locked_out(request):
    minutes = math.ceil(settings.LOGIN_LOCKOUT_SECONDS / 60)
    return render(request, "429.html", {"minutes": minutes}, status=429)


@sensitive_post_parameters("password")
@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request):
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if request.user.is_authenticated and request.method == "GET":
        return redirect(safe_next(request))
    form = LoginForm(request.POST or None)
    unverified = ""
    if request.method == "POST" and form.is_valid():
        outcome, user = services.user_sign_in(
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password"],
            ip_address=client_ip(request),
            request=request,
        )
        if outcome == services.SignInOutcome.LOCKED:
            return _locked_out(request)
        if outcome == services.SignInOutcome.WRONG:
            form.add_error(None, _("The e-mail address or the password is not right."))
        elif outcome == services.SignInOutcome.UNVERIFIED:
            unverified = user.email
        else:
            login(request, user)
            language = user.preferred_language
            if language:
                translation.activate(language)
            return set_language_cookie(redirect(safe_next(request)), language)
    return render(
        request,
        "accounts/login.html",
        {"form": form, "next": next_url, "unverified": unverified},
    )


logout_view = auth_views.LogoutView.as_view()


# --- password reset (Django's views, our templates and service) --------------------------------


class PasswordResetView(auth_views.PasswordResetView):
    """Django's page; the mail goes out through the service, in the person's language and at
    most once a minute."""

    def form_valid(self, form):
        services.password_reset_send(email=form.cleaned_data["email"])
        return HttpResponseRedirect(self.get_success_url())


password_reset = PasswordResetView.as_view(
    template_name="accounts/password_reset_form.html",
    form_class=PasswordEmailForm,
    success_url=reverse_lazy("accounts:password_reset_done"),
)
password_reset_done = auth_views.PasswordResetDoneView.as_view(
    template_name="accounts/password_reset_done.html"
)
password_reset_confirm = auth_views.PasswordResetConfirmView.as_view(
    template_name="accounts/password_reset_confirm.html",
    form_class=PasswordSetForm,
    success_url=reverse_lazy("accounts:password_reset_complete"),
)
password_reset_complete = auth_views.PasswordResetCompleteView.as_view(
    template_name="accounts/password_reset_complete.html"
)


# --- terms of use ------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def terms(request):
    user = request.user
    if request.method == "POST":
        if not user.is_authenticated:
            return redirect(f"{reverse('accounts:login')}?next={reverse('accounts:terms')}")
        services.terms_accept(user=user)
        request.session["terms_ok"] = settings.TERMS_VERSION
        messages.success(request, _("Thank you: you accepted the terms of use."))
        return redirect(safe_next(request))
    needs_accept = user.is_authenticated and not services.terms_accepted(user)
    return render(
        request,
        "accounts/terms.html",
        {
            "version": settings.TERMS_VERSION,
            "needs_accept": needs_accept,
            "next": request.GET.get("next", ""),
        },
    )


# --- settings and API tokens -------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def settings_view(request):
    user = request.user
    form = ProfileForm(
        request.POST or None,
        initial={
            "first_name": user.first_name,
            "last_name": user.last_name,
            "preferred_language": user.preferred_language,
        },
    )
    if request.method == "POST" and form.is_valid():
        ok, _user = call_service(
            request, services.user_update_profile, form=form, user=user, **form.cleaned_data
        )
        if ok:
            language = form.cleaned_data["preferred_language"]
            if language:
                translation.activate(language)
            messages.success(request, _("Your settings are saved."))
            return set_language_cookie(redirect("accounts:settings"), language)
    return render(request, "accounts/settings.html", {"form": form})


def _tokens_context(request, form=None, secret="", new_token=None) -> dict:
    return {
        "tokens": selectors.tokens_of(request.user),
        "form": form or TokenForm(),
        "secret": secret,
        "new_token": new_token,
    }


@login_required
@require_http_methods(["GET"])
def tokens(request):
    return render(request, "accounts/tokens.html", _tokens_context(request))


@login_required
@require_POST
def token_create(request):
    """The secret is shown in this one answer only; it is never stored, so there is no redirect."""
    form = TokenForm(request.POST)
    secret, token = "", None
    if form.is_valid():
        ok, created = call_service(
            request,
            services.token_create,
            form=form,
            user=request.user,
            name=form.cleaned_data["name"],
            expires_in_days=form.cleaned_data["expires_in_days"],
        )
        if ok:
            token, secret = created
            form = TokenForm()
    context = _tokens_context(request, form, secret, token)
    if request.htmx:
        return render_fragment(request, "accounts/_tokens.html", context)
    # The language switcher must come back to a page that answers GET.
    context["page_url"] = reverse("accounts:tokens")
    return render(request, "accounts/tokens.html", context)


@login_required
@require_POST
def token_revoke(request, token_id):
    token = selectors.token_get(request.user, token_id)
    ok, _token = call_service(request, services.token_revoke, user=request.user, token=token)
    if ok:
        messages.success(request, _("The token “%(name)s” is revoked.") % {"name": token.name})
    if request.htmx:
        return render_fragment(request, "accounts/_tokens.html", _tokens_context(request))
    return redirect_to(request, reverse("accounts:tokens"))
