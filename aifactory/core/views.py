from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from . import selectors


@require_GET
def home(request):
    return render(request, "core/home.html")


@login_required
def dashboard(request):
    from aifactory.accounts.selectors import organisations_visible

    organisations = organisations_visible(request.user)
    return render(request, "core/dashboard.html", {"organisations": organisations})


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
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        checks["database"] = {"ok": False, "error": str(exc)[:200]}
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


@login_required
def audit_log(request):
    params = {
        k: request.GET.get(k, "").strip()
        for k in ("action", "object_type", "actor", "since", "until")
    }
    events = selectors.audit_events(
        request.user,
        action=params["action"],
        object_type=params["object_type"],
        actor=params["actor"],
        since=params["since"] or None,
        until=params["until"] or None,
    ).select_related("actor")
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    template = "core/_audit_rows.html" if request.htmx else "core/audit.html"
    return render(request, template, {"page": page, "params": params})
