"""Small helpers for pages that answer both plain requests and HTMX requests."""

from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.cache import patch_vary_headers
from django_htmx.http import HttpResponseClientRedirect


def is_htmx(request) -> bool:
    """An HTMX request that wants a fragment (not a history restore, which needs the whole page)."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.history_restore_request


def render_fragment(request, template: str, context=None, status: int = 200) -> HttpResponse:
    """Render a fragment plus the pending messages, which replace those shown (out-of-band)."""
    response = render(request, template, context, status=status)
    response.content += render_to_string(
        "core/_messages.html", {"oob": True}, request=request
    ).encode()
    return response


def render_page(request, template: str, fragment: str, context=None, status: int = 200):
    """The full page for a plain request, only the fragment for HTMX; caches keep them apart."""
    if is_htmx(request):
        response = render_fragment(request, fragment, context, status=status)
    else:
        response = render(request, template, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


def redirect_to(request, url: str) -> HttpResponse:
    """Redirect; HTMX requests are told to load the page themselves instead of swapping it in."""
    if is_htmx(request):
        return HttpResponseClientRedirect(url)
    return redirect(url)
