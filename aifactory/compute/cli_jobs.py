"""`aifactory jobs ...`: jobs from the server's shell.

``submit`` and ``cancel`` act for the person named with ``--user``: the services check their
rights (member of the project, owner or PI/manager of the job) exactly as for the portal, and the
audit log names them. ``list``, ``show``, ``logs`` and ``templates`` read everything, like the
other operator commands. ``--mem`` and ``--time`` are parsed strictly (see cli_clusters); errors
name the option.
"""

import contextlib
import json
import sys
import uuid
from pathlib import Path

from django.core.management.base import CommandError
from django.db.models import Q

from aifactory.access.models import Project
from aifactory.core.cli import person, write_json

from . import job_templates, selectors, services
from .backends.base import BackendError
from .cli_clusters import cluster_named, parse_mem, parse_pairs, parse_time, service_errors
from .models import Job, JobState
from .services.job_datasets import job_datasets_public

SUBMIT_OPTIONS = {
    "project": "--project",
    "cluster": "--cluster",
    "partition": "--partition",
    "gpus": "--gpus",
    "cpus": "--cpus",
    "mem_mb": "--mem",
    "time_limit_minutes": "--time",
    "template": "--template",
    "params": "--param",
    "script": "SCRIPT",
    "name": "--name",
    "idempotency_key": "--idempotency-key",
}
LOG_TAIL_BYTES = 64 * 1024


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)

    submit = sub.add_parser("submit", help="submit a job for a person")
    submit.add_argument("script", nargs="?", help="the job script (a file, or - for stdin)")
    submit.add_argument("--project", required=True, metavar="P", help="the project's code")
    submit.add_argument("--cluster", required=True, metavar="C")
    submit.add_argument("--partition", default="", metavar="X", help="default: the cluster's")
    submit.add_argument("--gpus", metavar="N")
    submit.add_argument("--cpus", metavar="N")
    submit.add_argument("--mem", metavar="SIZE", help="memory: 512M, 16G...")
    submit.add_argument(
        "--time", required=True, metavar="LIMIT", help="time limit: MM, HH:MM:SS or D-HH:MM:SS"
    )
    submit.add_argument("--template", metavar="NAME", help="see `aifactory jobs templates`")
    submit.add_argument(
        "--param", action="extend", nargs="+", metavar="K=V", help="a template parameter"
    )
    submit.add_argument("--name", default="", help="the job's name")
    submit.add_argument(
        "--dataset",
        action="append",
        default=[],
        metavar="SLUG[@N]",
        help="a dataset the job reads (repeat for several); see AIFACTORY_DATASETS in the job",
    )
    submit.add_argument("--idempotency-key", default="", metavar="KEY")
    submit.add_argument(
        "--user", required=True, metavar="EMAIL", help="the person it runs for (their rights)"
    )
    submit.add_argument("--json", action="store_true")

    listing = sub.add_parser("list", help="jobs, newest first")
    listing.add_argument("--project", metavar="P")
    listing.add_argument("--cluster", metavar="C")
    listing.add_argument("--state", choices=JobState.values)
    listing.add_argument("--limit", type=int, default=100)
    listing.add_argument("--json", action="store_true")

    show = sub.add_parser("show", help="one job with its state history")
    show.add_argument("reference", help="J-2026-00001, or the job's id")
    show.add_argument("--json", action="store_true")

    cancel = sub.add_parser("cancel", help="cancel a job for a person")
    cancel.add_argument("reference")
    cancel.add_argument("--user", required=True, metavar="EMAIL")

    logs = sub.add_parser("logs", help="the end of a job's stdout and stderr")
    logs.add_argument("reference")
    logs.add_argument("--tail", type=int, default=LOG_TAIL_BYTES, metavar="BYTES")

    tpl = sub.add_parser("templates", help="the job templates and their parameters")
    tpl.add_argument("--json", action="store_true")


def handle(action: str, options: dict) -> None:
    {
        "submit": _submit,
        "list": _list,
        "show": _show,
        "cancel": _cancel,
        "logs": _logs,
        "templates": _templates,
    }[action](options)


def project_coded(code: str) -> Project:
    project = Project.objects.filter(code=(code or "").strip()).first()
    if project is None:
        raise CommandError(f"--project: no project {code!r}")
    return project


def job_referenced(reference: str) -> Job:
    key = (reference or "").strip()
    lookup = Q(reference=key)
    with contextlib.suppress(ValueError):
        lookup |= Q(pk=uuid.UUID(key))
    job = Job.objects.select_related("project", "cluster", "user").filter(lookup).first()
    if job is None:
        raise CommandError(f"REF: no job {reference!r}")
    return job


def _read_script(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CommandError(f"SCRIPT: no such file {path!r}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"SCRIPT: cannot read {path!r}: {exc}") from None


def _submit(o: dict) -> None:
    if bool(o.get("script")) == bool(o.get("template")):
        raise CommandError("SCRIPT: give a script file or --template NAME (one of the two)")
    if o.get("param") and not o.get("template"):
        raise CommandError("--param: parameters go with --template")
    params = parse_pairs(o.get("param"), "--param")
    minutes = parse_time(o["time"], "--time")
    mem_mb = parse_mem(o["mem"], "--mem") if o.get("mem") else None
    script = _read_script(o["script"]) if o.get("script") else None
    user = person(o["user"])
    project = project_coded(o["project"])
    cluster = cluster_named(o["cluster"])
    with service_errors(SUBMIT_OPTIONS, who=user.email):
        job = services.job_submit(
            actor=user,
            project=project,
            cluster=cluster,
            script=script,
            template=o.get("template") or None,
            params=params if o.get("template") else None,
            partition=o.get("partition") or "",
            gpus=o.get("gpus"),
            cpus=o.get("cpus"),
            mem_mb=mem_mb,
            time_limit_minutes=minutes,
            name=o.get("name") or "",
            idempotency_key=o.get("idempotency_key") or "",
            datasets=o.get("dataset") or [],
        )
    job.refresh_from_db()
    if o.get("json"):
        write_json(o["stdout"], job_row(job))
        return
    cost = job.max_cost or {}
    o["stdout"].write(
        f"{job.reference} {job.state}"
        + (f" ({job.reason})" if job.reason else "")
        + f" on {cluster.name}:{job.partition} as {job.username}; at most "
        f"{cost.get('gpu_hours', 0)} GPU h, {cost.get('cpu_core_hours', 0)} CPU core h, "
        f"{cost.get('billing', 0)} billing units"
    )


def job_row(job: Job) -> dict:
    return {
        "reference": job.reference,
        "id": str(job.id),
        "name": job.name,
        "project": job.project.code,
        "cluster": job.cluster.name,
        "partition": job.partition,
        "user": job.user.email,
        "username": job.username,
        "template": job.template,
        "params": job.params,
        "gpus": job.gpus,
        "cpus": job.cpus,
        "mem_mb": job.mem_mb,
        "time_limit_minutes": job.time_limit_minutes,
        "max_cost": job.max_cost,
        "datasets": job_datasets_public(job.datasets),
        "state": job.state,
        "reason": job.reason,
        "external_id": job.external_id,
        "node": job.node,
        "workdir": job.workdir,
        "submit_attempts": job.submit_attempts,
        "last_error": job.last_error,
        "created_at": job.created_at,
        "submitted_at": job.submitted_at,
        "started_at": job.started_at,
        "ended_at": job.ended_at,
        "exit_code": job.exit_code,
        "efficiency": job.efficiency,
    }


def _list(o: dict) -> None:
    qs = Job.objects.select_related("project", "cluster", "user")
    if o.get("project"):
        qs = qs.filter(project=project_coded(o["project"]))
    if o.get("cluster"):
        qs = qs.filter(cluster=cluster_named(o["cluster"]))
    if o.get("state"):
        qs = qs.filter(state=o["state"])
    if (o.get("limit") or 0) < 1:
        raise CommandError("--limit: give 1 or more")
    rows = [job_row(j) for j in qs.order_by("-created_at")[: o["limit"]]]
    if o.get("json"):
        write_json(o["stdout"], rows)
        return
    if not rows:
        o["stdout"].write("no jobs")
        return
    for r in rows:
        o["stdout"].write(
            f"{r['reference']:<14} {r['state']:<18} {r['project']:<20} "
            f"{r['cluster']}:{r['partition']:<10} {r['gpus']} GPU {r['cpus']} CPU "
            f"{r['time_limit_minutes']} min  {r['user']}  {r['name']}"
        )


def _show(o: dict) -> None:
    job = job_referenced(o["reference"])
    events = [
        {
            "at": e.created_at,
            "from": e.from_state,
            "to": e.to_state,
            "reason": e.reason,
            "actor": e.actor.email if e.actor else None,
        }
        for e in job.events.select_related("actor")
    ]
    if o.get("json"):
        write_json(o["stdout"], job_row(job) | {"events": events, "script": job.script})
        return
    w = o["stdout"].write
    r = job_row(job)
    w(f"{job.reference}: {job.name}  [{job.state}]" + (f" {job.reason}" if job.reason else ""))
    w(f"project {r['project']}  cluster {r['cluster']}:{r['partition']}  user {r['user']}")
    w(
        f"asked {job.gpus} GPU, {job.cpus} CPU, {job.mem_mb} MB, {job.time_limit_minutes} min; "
        f"at most {job.max_cost}"
    )
    if job.template:
        w(f"template {job.template} {json.dumps(job.params, ensure_ascii=False)}")
    w(f"scheduler id {job.external_id or '-'}  node {job.node or '-'}  exit {job.exit_code}")
    if job.last_error:
        w(f"last error: {job.last_error}")
    if job.efficiency:
        w(f"efficiency {json.dumps(job.efficiency)}")
    for d in r["datasets"]:
        w(f"dataset {d['slug']}@{d['version']}")
        for f in d["files"]:
            w(f"  {f['name']}  {f['size']} bytes  sha256 {f['sha256']}")
    for e in events:
        w(
            f"  {e['at']:%Y-%m-%d %H:%M:%S}  {e['from'] or '-'} -> {e['to']}"
            + (f"  {e['reason']}" if e["reason"] else "")
            + (f"  by {e['actor']}" if e["actor"] else "")
        )


def _cancel(o: dict) -> None:
    job = job_referenced(o["reference"])
    user = person(o["user"])
    with service_errors(who=user.email):
        job = services.job_cancel(actor=user, job=job)
    o["stdout"].write(f"{job.reference} {job.state}" + (f" ({job.reason})" if job.reason else ""))


def _logs(o: dict) -> None:
    job = job_referenced(o["reference"])
    if o["tail"] < 1:
        raise CommandError("--tail: give 1 or more bytes")
    if not job.external_id:
        raise CommandError(f"REF: {job.reference} has not reached the scheduler yet; no logs")
    try:
        logs = selectors.job_logs(None, job, o["tail"])
    except BackendError as exc:
        raise CommandError(f"logs: {exc}") from None
    for stream in ("stdout", "stderr"):
        o["stdout"].write(f"==> {stream} <==")
        o["stdout"].write(logs.get(stream, ""), ending="" if logs.get(stream) else "\n")


def _templates(o: dict) -> None:
    rows = [t.as_dict() for t in job_templates.templates()]
    if o.get("json"):
        write_json(o["stdout"], rows)
        return
    w = o["stdout"].write
    for t in rows:
        w(f"{t['name']}: {t['title']}")
        w(f"  {t['description']}")
        for p in t["params"]:
            default = "required" if p["required"] else f"default {p['default']!r}"
            kind = "|".join(p["choices"]) if p["choices"] else p["kind"]
            w(f"  --param {p['name']}=<{kind}>  ({default})  {p['help']}")
