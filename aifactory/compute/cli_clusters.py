"""`aifactory clusters ...`: operators configure the clusters from the server's shell.

``add``, ``update``, ``partition``, ``account`` and ``sync`` go through the compute services as
the system (``actor=None``, audited as ``system``); ``list`` reads everything. Parsing is
strict: a bad value is a CommandError naming the option, and a service's ValidationError or
ServiceError becomes one naming the field (see :func:`service_errors`).
"""

import functools
import re

from django.core.management.base import CommandError

from aifactory.access.models import Allocation
from aifactory.core import cli
from aifactory.core.cli import person

from . import services
from .models import Backend, Cluster

# Service fields → the option that sets them, so an error names what the operator typed.
OPTIONS = {
    "rates.gpu_hour": "--rate-gpu-hour",
    "rates.cpu_hour": "--rate-cpu-hour",
    "power.gpu_watts": "--gpu-watts",
    "power.node_watts": "--node-watts",
    "pue": "--pue",
    "grid": "--grid",
    "sync_seconds": "--sync-seconds",
    "title": "--title",
    "backend": "--backend",
    "nodes": "--nodes",
    "gpus_per_node": "--gpus-per-node",
    "gpu_type": "--gpu-type",
    "cpus_per_node": "--cpus-per-node",
    "mem_gb_per_node": "--mem-gb",
    "max_time_minutes": "--max-time",
    "username": "--username",
    "user": "--user",
}
TIME_RE = re.compile(
    r"^(?:(?P<days>\d+)-(?P<dh>\d+)(?::(?P<dm>\d+)(?::(?P<ds>\d+))?)?"  # D-H[:M[:S]]
    r"|(?P<h>\d+):(?P<hm>\d+):(?P<hs>\d+)"  # H:M:S
    r"|(?P<m>\d+)(?::(?P<ms>\d+))?)$"  # M[:S]
)
MEM_RE = re.compile(r"^(?P<n>\d+)(?P<unit>[MGT]?)B?$", re.IGNORECASE)
MEM_UNITS = {"": 1, "M": 1, "G": 1024, "T": 1024 * 1024}


def option(field: str, options: dict | None = None) -> str:
    options = OPTIONS | (options or {})
    if field in options:
        return options[field]
    if field.startswith("config."):
        return f"--config {field.removeprefix('config.')}"
    if field.startswith("params."):
        return f"--param {field.removeprefix('params.')}"
    return field


def service_errors(options: dict | None = None, *, who: str = "this person"):
    """``core.cli.service_errors`` with the cluster options (and ``--config``/``--param`` keys)."""
    return cli.service_errors(functools.partial(option, options=options), who=who)


def parse_time(value: str, name: str = "--time") -> int:
    """A Slurm time limit in whole minutes (seconds round up): MM, MM:SS, HH:MM:SS, D-HH,
    D-HH:MM or D-HH:MM:SS."""
    match = TIME_RE.fullmatch(str(value).strip())
    bad = CommandError(
        f"{name}: use minutes, HH:MM:SS or D-HH:MM:SS, such as 90, 2:00:00 or 1-12:00:00 "
        f"(got {value!r})"
    )
    if not match:
        raise bad
    g = {k: int(v) for k, v in match.groupdict().items() if v is not None}
    if "days" in g:
        hours, minutes, seconds = g["dh"], g.get("dm", 0), g.get("ds", 0)
        if hours > 23 or minutes > 59 or seconds > 59:
            raise bad
        seconds += ((g["days"] * 24 + hours) * 60 + minutes) * 60
    elif "h" in g:
        if g["hm"] > 59 or g["hs"] > 59:
            raise bad
        seconds = (g["h"] * 60 + g["hm"]) * 60 + g["hs"]
    else:
        if g.get("ms", 0) > 59:
            raise bad
        seconds = g["m"] * 60 + g.get("ms", 0)
    if seconds <= 0:
        raise CommandError(f"{name}: the time limit must be more than zero")
    return -(-seconds // 60)


def parse_mem(value: str, name: str = "--mem") -> int:
    """A memory size in MB: 512M, 16G, 1T (16GB is fine too; a bare number is MB, as in Slurm)."""
    match = MEM_RE.fullmatch(str(value).strip())
    if not match:
        raise CommandError(f"{name}: use a size such as 16G or 512M (got {value!r})")
    mb = int(match["n"]) * MEM_UNITS[match["unit"].upper()]
    if mb <= 0:
        raise CommandError(f"{name}: the memory must be more than zero")
    return mb


def parse_pairs(values: list[str] | None, name: str) -> dict[str, str]:
    """KEY=VALUE arguments; a key given twice or a pair without "=" is an error."""
    pairs: dict[str, str] = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise CommandError(f"{name}: use KEY=VALUE (got {item!r})")
        if key in pairs:
            raise CommandError(f"{name} {key}: given twice")
        pairs[key] = value
    return pairs


def _setting(value: str):
    """A --config value: true/false are booleans; the services read numbers from text."""
    return {"true": True, "false": False}.get(value.strip().lower(), value)


def cluster_named(name: str) -> Cluster:
    cluster = Cluster.objects.filter(name=(name or "").strip()).first()
    if cluster is None:
        known = ", ".join(Cluster.objects.values_list("name", flat=True)) or "none yet"
        raise CommandError(f"cluster: no cluster {name!r} (there are: {known})")
    return cluster


# --- the subcommands ---------------------------------------------------------------------------


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)

    add = sub.add_parser("add", help="add a cluster")
    add.add_argument("name", help="a short name: lower-case letters, digits, - and _")
    add.add_argument("--backend", required=True, choices=Backend.values)
    add.add_argument("--title", default="")
    add.add_argument(
        "--config",
        action="extend",
        nargs="+",
        metavar="KEY=VALUE",
        help="a backend setting (local: max_jobs, run_as...; slurm: mode, rest_url, "
        "jwt_key_path, workdir_root...); repeat for several",
    )
    add.add_argument("--rate-gpu-hour", metavar="N", help="billing units per GPU hour")
    add.add_argument("--rate-cpu-hour", metavar="N", help="billing units per CPU core hour")
    add.add_argument("--gpu-watts", metavar="N", help="power per GPU (W)")
    add.add_argument("--node-watts", metavar="N", help="power per node without GPUs (W)")
    add.add_argument("--pue", metavar="N", help="power usage effectiveness (1 or more)")
    add.add_argument("--grid", metavar="N", help="grid carbon intensity (g CO2e per kWh)")
    add.add_argument("--sync-seconds", metavar="N", help="status sync interval (default 15)")
    add.add_argument("--json", action="store_true")

    update = sub.add_parser("update", help="change a cluster's title or backend settings")
    update.add_argument("name", help="the cluster")
    update.add_argument("--title", default=None)
    update.add_argument(
        "--config",
        action="extend",
        nargs="+",
        metavar="KEY=VALUE",
        help="set a backend setting, the others stay (KEY= with nothing removes it); "
        "e.g. oidc_username_claim=preferred_username; repeat for several",
    )
    update.add_argument("--json", action="store_true")

    listing = sub.add_parser("list", help="the clusters with their partitions")
    listing.add_argument("--json", action="store_true")

    part = sub.add_parser("partition", help="add or replace a partition of a cluster")
    part.add_argument("name", help="the cluster")
    part.add_argument("partition", help="the partition's name")
    part.add_argument("--gpus-per-node", required=True, metavar="N")
    part.add_argument("--cpus-per-node", required=True, metavar="N")
    part.add_argument("--mem-gb", required=True, metavar="N", help="memory per node (GB)")
    part.add_argument("--gpu-type", default="", metavar="T")
    part.add_argument("--nodes", default="1", metavar="N")
    part.add_argument(
        "--max-time", default="2880", metavar="MIN", help="longest time limit (minutes or H:MM:SS)"
    )
    part.add_argument("--default", action="store_true", help="the cluster's default partition")

    account = sub.add_parser("account", help="map a person to their username on a cluster")
    account.add_argument("name", help="the cluster")
    account.add_argument("--user", required=True, metavar="EMAIL")
    account.add_argument("--username", required=True, metavar="U")

    sync = sub.add_parser("sync", help="one status sync of a cluster now")
    sync.add_argument("name", help="the cluster")
    sync.add_argument("--json", action="store_true")

    provision = sub.add_parser(
        "provision",
        help="write the projects' accounts, members and limits to the cluster's scheduler now",
    )
    provision.add_argument("name", help="the cluster")
    provision.add_argument(
        "--project", metavar="CODE", help="only this project's allocation (even if unchanged)"
    )
    provision.add_argument("--json", action="store_true")


def handle(action: str, options: dict) -> None:
    {
        "add": _add,
        "update": _update,
        "list": _list,
        "partition": _partition,
        "account": _account,
        "sync": _sync,
        "provision": _provision,
    }[action](options)


def _add(o: dict) -> None:
    config = {k: _setting(v) for k, v in parse_pairs(o.get("config"), "--config").items()}
    rates = {
        key: o[opt] for key, opt in (("gpu_hour", "rate_gpu_hour"), ("cpu_hour", "rate_cpu_hour"))
    }
    power = {key: o[key] for key in ("gpu_watts", "node_watts")}
    with service_errors({"name": "NAME"}):
        cluster = services.cluster_create(
            actor=None,
            name=o["name"],
            backend=o["backend"],
            title=o.get("title") or "",
            config=config,
            rates={k: v for k, v in rates.items() if v is not None} or None,
            power={k: v for k, v in power.items() if v is not None} or None,
            pue=o.get("pue"),
            grid=o.get("grid"),
            sync_seconds=o.get("sync_seconds"),
        )
    if o.get("json"):
        cli.write_json(o["stdout"], cluster_row(cluster))
    else:
        o["stdout"].write(
            f"added cluster {cluster.name} ({cluster.backend}); "
            f"add a partition with `aifactory clusters partition {cluster.name} NAME ...`"
        )


def _update(o: dict) -> None:
    cluster = cluster_named(o["name"])
    pairs = parse_pairs(o.get("config"), "--config")
    config = None
    if pairs:
        config = dict(cluster.config)
        for key, value in pairs.items():
            if value.strip():
                config[key] = _setting(value)
            else:
                config.pop(key, None)
    with service_errors():
        cluster = services.cluster_update(
            actor=None, cluster=cluster, title=o.get("title"), config=config
        )
    if o.get("json"):
        cli.write_json(o["stdout"], cluster_row(cluster))
    else:
        o["stdout"].write(f"updated cluster {cluster.name}")


def cluster_row(cluster: Cluster) -> dict:
    return {
        "name": cluster.name,
        "title": cluster.title,
        "backend": cluster.backend,
        "active": cluster.is_active,
        "config": cluster.config,
        "rate_gpu_hour": cluster.rate_gpu_hour,
        "rate_cpu_hour": cluster.rate_cpu_hour,
        "gpu_watts": cluster.gpu_watts,
        "node_watts": cluster.node_watts,
        "pue": cluster.pue,
        "grid_g_co2_per_kwh": cluster.grid_g_co2_per_kwh,
        "sync_seconds": cluster.sync_seconds,
        "last_sync_at": cluster.last_sync_at,
        "last_sync_error": cluster.last_sync_error,
        "partitions": [
            {
                "name": p.name,
                "nodes": p.nodes,
                "gpus_per_node": p.gpus_per_node,
                "gpu_type": p.gpu_type,
                "cpus_per_node": p.cpus_per_node,
                "mem_gb_per_node": p.mem_gb_per_node,
                "max_time_minutes": p.max_time_minutes,
                "default": p.is_default,
            }
            for p in cluster.partitions.all()
        ],
        "accounts": cluster.accounts.count(),
        "provisioned": [
            {
                "account": r.account,
                "project": r.allocation.project.code,
                "usernames": r.usernames,
                "gpu_minutes": r.gpu_minutes,
                "cpu_minutes": r.cpu_minutes,
                "provisioned_at": r.provisioned_at,
                "last_error": r.last_error,
            }
            for r in cluster.provisions.select_related("allocation__project")
        ],
    }


def _list(o: dict) -> None:
    rows = [cluster_row(c) for c in Cluster.objects.prefetch_related("partitions")]
    if o.get("json"):
        cli.write_json(o["stdout"], rows)
        return
    out = o["stdout"]
    if not rows:
        out.write("no clusters")
        return
    for r in rows:
        state = "" if r["active"] else "  (inactive)"
        synced = r["last_sync_at"].strftime("%Y-%m-%d %H:%M:%S") if r["last_sync_at"] else "never"
        out.write(
            f"{r['name']:<16} {r['backend']:<6} {r['title'] or '-'}{state}  "
            f"rates {r['rate_gpu_hour']}/GPU h {r['rate_cpu_hour']}/CPU h  "
            f"accounts {r['accounts']}  synced {synced}"
        )
        if r["last_sync_error"]:
            out.write(f"  last sync error: {r['last_sync_error'].splitlines()[0]}")
        for p in r["partitions"]:
            gpus = f"{p['gpus_per_node']} GPU {p['gpu_type']}".rstrip()
            out.write(
                f"  {p['name']:<14} {p['nodes']} nodes × ({gpus}, {p['cpus_per_node']} CPUs, "
                f"{p['mem_gb_per_node']} GB)  max {p['max_time_minutes']} min"
                + ("  default" if p["default"] else "")
            )


def _partition(o: dict) -> None:
    cluster = cluster_named(o["name"])
    with service_errors({"name": "PART"}):
        partition = services.partition_set(
            actor=None,
            cluster=cluster,
            name=o["partition"],
            nodes=o["nodes"],
            gpus_per_node=o["gpus_per_node"],
            gpu_type=o.get("gpu_type") or "",
            cpus_per_node=o["cpus_per_node"],
            mem_gb_per_node=o["mem_gb"],
            max_time_minutes=parse_time(o["max_time"], "--max-time"),
            is_default=bool(o.get("default")),
        )
    mark = " (default)" if partition.is_default else ""
    o["stdout"].write(f"partition {cluster.name}:{partition.name}{mark} saved")


def _account(o: dict) -> None:
    cluster = cluster_named(o["name"])
    user = person(o["user"])
    with service_errors():
        account = services.cluster_account_set(
            actor=None, cluster=cluster, user=user, username=o["username"]
        )
    o["stdout"].write(f"{user.email} runs jobs on {cluster.name} as {account.username}")


def _sync(o: dict) -> None:
    cluster = cluster_named(o["name"])
    with service_errors():
        result = services.cluster_sync(cluster)
    if o.get("json"):
        cli.write_json(o["stdout"], result)
    else:
        counts = ", ".join(f"{k} {v}" for k, v in result.items() if k != "error")
        o["stdout"].write(f"synced {cluster.name}: {counts}")
    if result.get("error"):
        raise CommandError(f"sync {cluster.name}: {result['error']}")


def _provision(o: dict) -> None:
    cluster = cluster_named(o["name"])
    if not o.get("project"):
        result = services.cluster_provision_due(cluster)
        if o.get("json"):
            cli.write_json(o["stdout"], result)
        else:
            counts = ", ".join(f"{k} {v}" for k, v in result.items())
            o["stdout"].write(f"provisioned {cluster.name}: {counts}")
        if result["failed"]:
            raise CommandError(
                f"{result['failed']} account(s) on {cluster.name} were not provisioned; "
                "`aifactory clusters list --json` shows why"
            )
        return
    allocation = (
        Allocation.objects.filter(project__code=o["project"], cluster=cluster.name)
        .order_by("-end")
        .first()
    )
    if allocation is None:
        raise CommandError(f"--project: {o['project']} has no allocation on {cluster.name}")
    with service_errors():
        limits = services.allocation_provision(actor=None, allocation=allocation, cluster=cluster)
    result = {
        "account": allocation.slurm_account,
        "gpu_minutes": limits.gpu_minutes,
        "cpu_minutes": limits.cpu_minutes,
    }
    if o.get("json"):
        cli.write_json(o["stdout"], result)
    else:
        o["stdout"].write(
            f"{allocation.slurm_account} on {cluster.name}: GPU minutes {limits.gpu_minutes}, "
            f"CPU minutes {limits.cpu_minutes}"
        )
