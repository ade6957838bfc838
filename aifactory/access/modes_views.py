"""Pages of access modes and calls: the public "which access mode fits me?" page, and the
operators' pages to edit modes, pools and calls, with each pool's capacity committed and left.

Reads go through modes_selectors, changes through the services; buttons appear only for those
the permission rules allow, and the services check again.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from aifactory.core.forms import call_service
from aifactory.core.permissions import allowed, require
from aifactory.core.taxonomy import OrganisationKind, SizeClass

from . import modes_selectors as selectors
from .models import CallStatus, Resource, ReviewKind
from .modes_forms import CallForm, ModeForm, PoolForm
from .services import modes as services


def text(values: dict, language: str) -> str:
    """The visitor's language when the text has it, else English, else the first one."""
    return values.get(language) or values.get("en") or next(iter(values.values()), "")


def _labels(choices, values) -> list[str]:
    names = dict(choices.choices)
    return [str(names.get(v, v)) for v in values]


def mode_card(mode, language: str) -> dict:
    resources = dict(Resource.choices)
    return {
        "mode": mode,
        "name": text(mode.name, language),
        "description": text(mode.description, language),
        "limits": [
            {"label": resources.get(key, key), "min": bounds.get("min", 0), "max": bounds["max"]}
            for key, bounds in mode.limits.items()
        ],
        "reviews": _labels(ReviewKind, mode.reviews),
        "kinds": _labels(OrganisationKind, mode.for_kinds),
        "sizes": _labels(SizeClass, mode.for_sizes),
    }


@require_GET
def modes_page(request):
    """Public: every active mode side by side, and the calls open now."""
    language = get_language()
    calls = selectors.calls_visible(request.user, open_only=True)
    return render(
        request,
        "access/modes_list.html",
        {
            "cards": [mode_card(m, language) for m in selectors.modes_visible(request.user)],
            "calls": [(c, text(c.title, language), text(c.mode.name, language)) for c in calls],
            "can_manage": allowed(request.user, "access_mode.manage"),
        },
    )


@login_required
@require_GET
def manage(request):
    """The operators' overview: modes, pools with their usage, and every call."""
    require(request.user, "access_mode.manage")
    language = get_language()
    return render(
        request,
        "access/modes_manage.html",
        {
            "modes": [(m, text(m.name, language)) for m in selectors.modes_visible(request.user)],
            "pools": [(p, services.pool_usage(p)) for p in selectors.pools_visible(request.user)],
            "calls": [(c, text(c.title, language)) for c in selectors.calls_visible(request.user)],
            "resources": dict(Resource.choices),
        },
    )


def _form_page(request, form, service, *, title: str, back: str, done: str, **kwargs):
    if request.method == "POST" and form.is_valid():
        ok, _obj = call_service(
            request, service, form=form, actor=request.user, data=form.data_for_service(), **kwargs
        )
        if ok:
            messages.success(request, done)
            return redirect(back)
    return render(request, "access/modes_form.html", {"form": form, "title": title, "back": back})


@login_required
@require_http_methods(["GET", "POST"])
def mode_create(request):
    require(request.user, "access_mode.manage")
    return _form_page(
        request,
        ModeForm(request.POST or None),
        services.mode_create,
        title=_("New access mode"),
        back="access:manage",
        done=_("Saved."),
    )


@login_required
@require_http_methods(["GET", "POST"])
def mode_edit(request, code):
    mode = selectors.mode_get(request.user, code)
    require(request.user, "access_mode.manage")
    return _form_page(
        request,
        ModeForm(request.POST or None, mode=mode),
        services.mode_update,
        title=_("Edit the access mode %(code)s") % {"code": mode.code},
        back="access:manage",
        done=_("Saved."),
        mode=mode,
    )


@login_required
@require_http_methods(["GET", "POST"])
def pool_create(request):
    require(request.user, "pool.manage")
    return _form_page(
        request,
        PoolForm(request.POST or None),
        services.pool_create,
        title=_("New capacity pool"),
        back="access:manage",
        done=_("Saved."),
    )


@login_required
@require_http_methods(["GET", "POST"])
def pool_edit(request, code):
    pool = selectors.pool_get(request.user, code)
    require(request.user, "pool.manage")
    return _form_page(
        request,
        PoolForm(request.POST or None, pool=pool),
        services.pool_update,
        title=_("Edit the capacity pool %(code)s") % {"code": pool.code},
        back="access:manage",
        done=_("Saved."),
        pool=pool,
    )


@login_required
@require_GET
def pool_detail(request, code):
    """Staff: the pool's capacity, what granted allocations commit, and what is left."""
    pool = selectors.pool_get(request.user, code)
    resources = dict(Resource.choices)
    usage = [
        {"label": resources.get(key, key), **figures}
        for key, figures in services.pool_usage(pool).items()
    ]
    language = get_language()
    return render(
        request,
        "access/modes_pool.html",
        {
            "pool": pool,
            "usage": usage,
            "modes": [(m, text(m.name, language)) for m in pool.modes.order_by("code")],
            "can_manage": allowed(request.user, "pool.manage"),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def call_create(request):
    require(request.user, "call.manage")
    return _form_page(
        request,
        CallForm(request.POST or None),
        services.call_create,
        title=_("New call"),
        back="access:manage",
        done=_("Saved. The call is a draft until you open it."),
    )


@login_required
@require_http_methods(["GET", "POST"])
def call_edit(request, code):
    call = selectors.call_get(request.user, code)
    require(request.user, "call.manage")
    if call.status == CallStatus.CLOSED:
        messages.error(request, _("A closed call cannot be changed."))
        return redirect("access:manage")
    return _form_page(
        request,
        CallForm(request.POST or None, call=call),
        services.call_update,
        title=_("Edit the call %(code)s") % {"code": call.code},
        back="access:manage",
        done=_("Saved."),
        call=call,
    )


def _transition(request, code, service, done: str):
    call = selectors.call_get(request.user, code)
    require(request.user, "call.manage")
    ok, _call = call_service(request, service, actor=request.user, call=call)
    if ok:
        messages.success(request, done % {"code": call.code})
    return redirect("access:manage")


@login_required
@require_POST
def call_open(request, code):
    return _transition(request, code, services.call_open, _("The call %(code)s is open."))


@login_required
@require_POST
def call_close(request, code):
    return _transition(request, code, services.call_close, _("The call %(code)s is closed."))
