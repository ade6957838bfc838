import logging

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from . import selectors
from .dashboard import panels_for as dashboard_panels
from .forms import AuditFilterForm
from .htmx import render_page
from .models import AuditEvent

logger = logging.getLogger(__name__)


@require_GET
def home(request):
    return render(request, "core/home.html")


@login_required
@require_GET
def dashboard(request):
    return render(request, "core/dashboard.html", {"panels": dashboard_panels(request)})


@never_cache
@require_GET
def healthz(request):
    return JsonResponse({"status": "ok", "time": timezone.now().isoformat()})


@never_cache
@require_GET
def readyz(request):
    """Ready when the database answers, every migration is applied and a worker was seen lately."""
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = {"ok": True}
    except Exception:  # noqa: BLE001 - any failure means not ready
        # The message may name hosts, users or paths: it goes to the log, not to the caller.
        logger.exception("readyz: the database does not answer")
        checks["database"] = {"ok": False, "error": "unreachable"}
    if checks["database"]["ok"]:
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        checks["migrations"] = {
            "ok": not pending,
            "pending": [f"{m.app_label}.{m.name}" for m, _ in pending],
        }
        seen = selectors.worker_last_seen()
        checks["worker"] = {
            "ok": selectors.worker_alive(),
            "last_seen": seen.isoformat() if seen else None,
        }
    else:
        checks["migrations"] = {"ok": False}
        checks["worker"] = {"ok": False}
    ok = all(c["ok"] for c in checks.values())
    return JsonResponse(
        {"status": "ok" if ok else "unavailable", "checks": checks}, status=200 if ok else 503
    )


def _show(value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, list):
        return ", ".join(_show(v) for v in value) or "—"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_show(v)}" for k, v in value.items())
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    return str(value)


def readable_changes(event: AuditEvent) -> list[tuple[str, str]]:
    """(field, text) pairs. Updates record {field: [old, new]}; creations record plain values,
    of which the empty ones are left out."""
    pairs = []
    as_diff = not event.action.endswith(".create")
    for field, value in (event.changes or {}).items():
        label = field.replace("_", " ")
        if as_diff and isinstance(value, list) and len(value) == 2:
            pairs.append((label, f"{_show(value[0])} → {_show(value[1])}"))
        elif value not in (None, "", [], {}):
            pairs.append((label, _show(value)))
    return pairs


@login_required
@require_GET
def audit_log(request):
    form = AuditFilterForm(request.GET or None)
    events = selectors.audit_events(request.user, **form.filters()).select_related("actor")
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    rows = [{"event": e, "changes": readable_changes(e)} for e in page]
    return render_page(
        request,
        "core/audit.html",
        "core/_audit_results.html",
        {"form": form, "page": page, "rows": rows},
    )
