"""Clusters as operators configure them: the cluster with its backend settings, rates and energy
figures, its partitions, the people's cluster usernames, and the provisioning of a project's
Slurm account with its members and limits.

Only operators (``cluster.manage``) change these; ``actor=None`` is the system (the CLI on the
server). Bad input raises ValidationError naming the field, nothing is written.
"""

import logging
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from aifactory.core.errors import ServiceError
from aifactory.core.permissions import require_actor
from aifactory.core.services import audit_record, diff_fields

from ..backends.base import BackendError, Limits
from ..models import Backend, Cluster, ClusterAccount, Partition

logger = logging.getLogger(__name__)

__all__ = [
    "CONFIG_KEYS",
    "SERVER_ONLY_KEYS",
    "cluster_create",
    "cluster_update",
    "partition_set",
    "cluster_account_set",
    "cluster_accounts_from_claims",
    "allocation_provision",
    "allocation_limits",
]

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,49}$")
USERNAME_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
# Accounts jobs must never run as: the superuser and the scheduler's own account.
FORBIDDEN_USERNAMES = frozenset({"root", "slurm"})
TITLE_MAX = 200
BIG = 10**9

# The backend settings each backend understands, with their type. Unknown keys are refused, so a
# typo (``max_job``) is an error and not a setting silently ignored.
CONFIG_KEYS: dict[str, dict[str, type | tuple]] = {
    Backend.LOCAL: {
        "max_jobs": int,
        "allow_in_production": bool,
        "run_as": str,
        "seconds_per_minute": float,
        "kill_grace_seconds": float,
        "oidc_username_claim": str,
    },
    Backend.SLURM: {
        "mode": ("rest", "cli"),
        "rest_url": str,
        "api_version": str,
        "jwt_key_path": str,
        "jwt_token_env": str,
        "jwt_lifetime_seconds": int,
        "cluster_name": str,
        "admin_user": str,
        "workdir_root": str,
        "create_workdir": bool,
        "timeout_seconds": int,
        "sbatch": str,
        "squeue": str,
        "scancel": str,
        "sacct": str,
        "sacctmgr": str,
        "oidc_username_claim": str,
        "provision": bool,
    },
}
# Settings only the server's administrator sets (the CLI on the server, ``actor=None``), never a
# person through the web or the API: the commands the worker runs (as root, they would run
# anything), the environment variable whose value the backend sends as a token (it could name
# SECRET_KEY), and where the signing key is read and the signed tokens are sent.
SERVER_ONLY_KEYS = frozenset(
    {
        "sbatch",
        "squeue",
        "scancel",
        "sacct",
        "sacctmgr",
        "jwt_token_env",
        "jwt_key_path",
        "rest_url",
    }
)
# The environment variables ``config.jwt_token_env`` may name: Slurm's own, never the portal's.
TOKEN_ENV_RE = re.compile(r"^SLURM_[A-Z0-9_]+$")
# The claim of the identity provider that carries people's username on the cluster
# (``config.oidc_username_claim``, e.g. "preferred_username"): a top-level claim name.
CLAIM_RE = re.compile(r"^[A-Za-z0-9_.:/-]{1,100}$")


# --- field checks ------------------------------------------------------------------------------


def _name(field: str, value: Any) -> str:
    if not isinstance(value, str) or not NAME_RE.fullmatch(value.strip()):
        raise ValidationError(
            {
                field: _(
                    "Use 1 to 50 lower-case letters, digits, hyphens and underscores, "
                    "starting with a letter or digit."
                )
            }
        )
    return value.strip()


def _title(field: str, value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or "\x00" in value:
        raise ValidationError({field: _("Enter a text.")})
    value = value.strip()
    if len(value) > TITLE_MAX:
        raise ValidationError(
            {
                field: _("At most %(limit)d characters (%(count)d given).")
                % {"limit": TITLE_MAX, "count": len(value)}
            }
        )
    return value


def _whole(field: str, value: Any, *, low: int = 0, high: int = BIG) -> int:
    """A whole number within [low, high]; "2" from a form or the CLI is fine, 2.5 or True is not."""
    if isinstance(value, bool):
        raise ValidationError({field: _("Enter a whole number.")})
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if not isinstance(value, int):
        raise ValidationError({field: _("Enter a whole number.")})
    if value < low or value > high:
        raise ValidationError(
            {
                field: _("Enter a whole number from %(low)d to %(high)d.")
                % {"low": low, "high": high}
            }
        )
    return value


def _decimal(field: str, value: Any, *, high: Decimal = Decimal(10**6)) -> Decimal:
    if isinstance(value, bool):
        raise ValidationError({field: _("Enter a number.")})
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError, TypeError):
        raise ValidationError({field: _("Enter a number.")}) from None
    if not number.is_finite() or number < 0:
        raise ValidationError({field: _("Enter a number of zero or more.")})
    if number >= high:
        raise ValidationError({field: _("Enter a number below %(high)s.") % {"high": high}})
    return number


def _config(backend: str, value: Any) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationError({"config": _("Give the backend settings as {key: value}.")})
    known = CONFIG_KEYS[backend]
    cleaned: dict[str, Any] = {}
    for key, item in value.items():
        field = f"config.{key}"
        kind = known.get(key)
        if kind is None:
            raise ValidationError(
                {
                    field: _("Unknown setting for this backend; known: %(names)s.")
                    % {"names": ", ".join(sorted(known))}
                }
            )
        if isinstance(kind, tuple):
            if item not in kind:
                raise ValidationError(
                    {field: _("Choose one of: %(values)s.") % {"values": ", ".join(kind)}}
                )
        elif kind is bool:
            if not isinstance(item, bool):
                raise ValidationError({field: _("Enter true or false.")})
        elif kind is int:
            item = _whole(field, item, low=1 if key == "max_jobs" else 0, high=10**6)
        elif kind is float:
            item = float(_decimal(field, item, high=Decimal(10**6)))
            if item <= 0 and key == "seconds_per_minute":
                raise ValidationError({field: _("Enter a number above zero.")})
        elif not isinstance(item, str) or "\x00" in item or len(item) > 500:
            raise ValidationError({field: _("Enter a text.")})
        cleaned[key] = item
    if backend == Backend.SLURM:
        root = cleaned.get("workdir_root", "")
        if not root.startswith("/"):
            raise ValidationError(
                {"config.workdir_root": _("Give the folder on the cluster that jobs run in.")}
            )
        rest_url = cleaned.get("rest_url", "")
        if rest_url and not re.match(r"^https?://[^\s/]+", rest_url):
            raise ValidationError({"config.rest_url": _("Enter an http:// or https:// address.")})
        token_env = cleaned.get("jwt_token_env", "")
        if token_env and not TOKEN_ENV_RE.fullmatch(token_env):
            raise ValidationError(
                {
                    "config.jwt_token_env": _(
                        "Name an environment variable that starts with SLURM_, in capitals, "
                        "digits and _ (e.g. SLURM_JWT)."
                    )
                }
            )
    if cleaned.get("run_as") in FORBIDDEN_USERNAMES:
        raise ValidationError({"config.run_as": _("Jobs never run as root or slurm.")})
    if "oidc_username_claim" in cleaned:
        claim = cleaned["oidc_username_claim"].strip()
        if not CLAIM_RE.fullmatch(claim):
            raise ValidationError(
                {
                    "config.oidc_username_claim": _(
                        "Name one claim of the identity provider, such as preferred_username: "
                        "up to 100 letters, digits and _ . : / -"
                    )
                }
            )
        cleaned["oidc_username_claim"] = claim
    return cleaned


def _server_only(actor, config: dict, current: dict) -> None:
    """A person (web, API) may not set or change a server-only setting; keeping the value the
    cluster has is fine. The system (``actor=None``, the CLI on the server) may."""
    if actor is None:
        return
    for key in sorted(SERVER_ONLY_KEYS):
        if config.get(key) != current.get(key):
            raise ValidationError(
                {
                    f"config.{key}": _(
                        "Set on the server: aifactory clusters update NAME --config %(key)s=VALUE."
                    )
                    % {"key": key}
                }
            )


def _backend(value: Any) -> str:
    if value not in Backend.values:
        raise ValidationError(
            {"backend": _("Choose one of: %(values)s.") % {"values": ", ".join(Backend.values)}}
        )
    return value


def _figures(*, rates=None, power=None, pue=None, grid=None, sync_seconds=None) -> dict[str, Any]:
    """The model fields for the numbers that were given (None: leave as is or default).

    ``rates`` is {"gpu_hour": n, "cpu_hour": n} in billing units; ``power`` is
    {"gpu_watts": n, "node_watts": n}."""
    fields: dict[str, Any] = {}
    if rates is not None:
        if not isinstance(rates, dict) or set(rates) - {"gpu_hour", "cpu_hour"}:
            raise ValidationError({"rates": _("Give the rates as {gpu_hour: n, cpu_hour: n}.")})
        if "gpu_hour" in rates:
            fields["rate_gpu_hour"] = _decimal("rates.gpu_hour", rates["gpu_hour"])
        if "cpu_hour" in rates:
            fields["rate_cpu_hour"] = _decimal("rates.cpu_hour", rates["cpu_hour"])
    if power is not None:
        if not isinstance(power, dict) or set(power) - {"gpu_watts", "node_watts"}:
            raise ValidationError({"power": _("Give the power as {gpu_watts: n, node_watts: n}.")})
        for key in ("gpu_watts", "node_watts"):
            if key in power:
                fields[key] = _whole(f"power.{key}", power[key], high=10**6)
    if pue is not None:
        number = _decimal("pue", pue, high=Decimal(100))
        if number < 1:
            raise ValidationError({"pue": _("A PUE is 1 or more.")})
        fields["pue"] = number
    if grid is not None:
        fields["grid_g_co2_per_kwh"] = _whole("grid", grid, high=10**5)
    if sync_seconds is not None:
        fields["sync_seconds"] = _whole("sync_seconds", sync_seconds, low=1, high=86400)
    return fields


# --- clusters ----------------------------------------------------------------------------------


def cluster_create(
    *,
    actor,
    name: str,
    backend: str,
    title: str = "",
    config: dict | None = None,
    rates: dict | None = None,
    power: dict | None = None,
    pue=None,
    grid=None,
    sync_seconds=None,
    is_demo: bool = False,
) -> Cluster:
    """Add a cluster. ``rates`` {"gpu_hour", "cpu_hour"} in billing units, ``power``
    {"gpu_watts", "node_watts"}, ``pue`` ≥ 1, ``grid`` in g CO2e per kWh."""
    require_actor(actor, "cluster.manage")
    name = _name("name", name)
    backend = _backend(backend)
    title = _title("title", title)
    config = _config(backend, config)
    _server_only(actor, config, {})
    fields = _figures(rates=rates, power=power, pue=pue, grid=grid, sync_seconds=sync_seconds)
    if Cluster.objects.filter(name=name).exists():
        raise ServiceError(_("A cluster with this name exists already."), field="name")
    try:
        with transaction.atomic():
            cluster = Cluster.objects.create(
                name=name, backend=backend, title=title, config=config, is_demo=is_demo, **fields
            )
            audit_record(
                actor=actor,
                action="cluster.create",
                obj=cluster,
                changes={"backend": backend, "title": title, "config": config, **fields},
            )
    except IntegrityError:
        raise ServiceError(_("A cluster with this name exists already."), field="name") from None
    return cluster


def cluster_update(
    *,
    actor,
    cluster: Cluster,
    title: str | None = None,
    config: dict | None = None,
    rates: dict | None = None,
    power: dict | None = None,
    pue=None,
    grid=None,
    sync_seconds=None,
    is_active: bool | None = None,
) -> Cluster:
    """Change what was given (None leaves a value as it is). ``config`` replaces the settings;
    the backend and the name stay (jobs and usage refer to them). A person (not the CLI) must
    give the server-only settings (SERVER_ONLY_KEYS) as they are."""
    require_actor(actor, "cluster.manage", cluster)
    data = _figures(rates=rates, power=power, pue=pue, grid=grid, sync_seconds=sync_seconds)
    if title is not None:
        data["title"] = _title("title", title)
    if config is not None:
        data["config"] = _config(cluster.backend, config)
    if is_active is not None:
        if not isinstance(is_active, bool):
            raise ValidationError({"is_active": _("Enter true or false.")})
        data["is_active"] = is_active
    with transaction.atomic():
        locked = Cluster.objects.select_for_update().get(pk=cluster.pk)
        if "config" in data:
            _server_only(actor, data["config"], locked.config or {})
        changed = diff_fields(locked, data)
        if changed:
            locked.save()
            audit_record(actor=actor, action="cluster.update", obj=locked, changes=changed)
    for key, value in data.items():
        setattr(cluster, key, getattr(locked, key, value))
    return locked


def partition_set(
    *,
    actor,
    cluster: Cluster,
    name: str,
    nodes=1,
    gpus_per_node=0,
    gpu_type: str = "",
    cpus_per_node=1,
    mem_gb_per_node=1,
    max_time_minutes=2880,
    is_default: bool = False,
) -> Partition:
    """Create or replace a partition of the cluster. One partition is the default: setting one
    takes the mark from the others; the first partition of a cluster is the default anyway, and
    the default stays one until another is named."""
    require_actor(actor, "cluster.manage", cluster)
    data = {
        "nodes": _whole("nodes", nodes, low=1, high=10**6),
        "gpus_per_node": _whole("gpus_per_node", gpus_per_node, high=1000),
        "gpu_type": _title("gpu_type", gpu_type)[:50],
        "cpus_per_node": _whole("cpus_per_node", cpus_per_node, low=1, high=100_000),
        "mem_gb_per_node": _whole("mem_gb_per_node", mem_gb_per_node, low=1, high=10**6),
        "max_time_minutes": _whole("max_time_minutes", max_time_minutes, low=1, high=10**7),
    }
    if not isinstance(is_default, bool):
        raise ValidationError({"is_default": _("Enter true or false.")})
    name = _name("name", name)
    with transaction.atomic():
        Cluster.objects.select_for_update().get(pk=cluster.pk)
        partition = Partition.objects.filter(cluster=cluster, name=name).first()
        first = not cluster.partitions.exclude(name=name).exists()
        # The default moves only by naming another one: a cluster always has one.
        data["is_default"] = is_default or first or bool(partition and partition.is_default)
        if partition is None:
            partition = Partition.objects.create(cluster=cluster, name=name, **data)
            changes = dict(data)
            action = "partition.create"
        else:
            changes = diff_fields(partition, data)
            partition.save()
            action = "partition.update"
        if partition.is_default:
            cluster.partitions.exclude(pk=partition.pk).filter(is_default=True).update(
                is_default=False
            )
        audit_record(
            actor=actor, action=action, obj=cluster, changes={"partition": name, **changes}
        )
    return partition


def cluster_account_set(*, actor, cluster: Cluster, user, username: str) -> ClusterAccount:
    """Map a person to their username on the cluster (their jobs run as it). Root, slurm and
    names outside ``[a-z_][a-z0-9_-]{0,31}`` are refused; a username belongs to one person.
    An operator's mapping replaces one that came from the identity provider, and the provider's
    claim never changes it afterwards."""
    require_actor(actor, "cluster.manage", cluster)
    account, _changed = _account_write(
        actor=actor, cluster=cluster, user=user, username=_username(username), source="operator"
    )
    return account


def cluster_accounts_from_claims(*, user, claims: dict) -> list[ClusterAccount]:
    """After a sign-in with the identity provider: the person's username on each cluster whose
    settings name a claim (``config.oidc_username_claim``), taken from that claim.

    The system acts (audited as ``system``). A cluster without the setting, or a claim the
    provider did not send, changes nothing; a mapping an operator made stays as it is; a changed
    claim changes the mapping that came from it. A value that is no valid username, a username
    someone else has on the cluster, or one that jobs or usage on the cluster recorded for
    another person (a real cluster user who has not signed in yet must not be claimed by a
    look-alike identity), is logged and skipped: the sign-in goes on. Returns the mappings
    written or changed.

    The claim must be one the identity provider sets from the site's directory, never one
    people can edit themselves; operators' mappings are the safe default."""
    written = []
    clusters = Cluster.objects.filter(config__has_key="oidc_username_claim").order_by("name")
    for cluster in clusters:
        claim = cluster.config.get("oidc_username_claim")
        if not claim or claims.get(claim) is None:
            continue
        try:
            username = _username(claims[claim])
            _not_recorded_for_others(cluster, user, username)
            account, changed = _account_write(
                actor=None,
                cluster=cluster,
                user=user,
                username=username,
                source="oidc",
                changes={"claim": claim},
            )
        except (ValidationError, ServiceError) as exc:
            message = " ".join(exc.messages) if isinstance(exc, ValidationError) else exc.message
            logger.warning(
                "Cluster %s: no username for user %s from the claim %s=%r: %s",
                cluster.name,
                user.pk,
                claim,
                str(claims[claim])[:100],
                message,
            )
            continue
        if changed:
            written.append(account)
    return written


def _not_recorded_for_others(cluster: Cluster, user, username: str) -> None:
    """Refuse a claimed username that jobs or usage records on the cluster hold for another
    person: it is someone's real account there, whatever the identity provider says."""
    from ..models import Job, UsageRecord

    recorded = (
        Job.objects.filter(cluster=cluster, username=username).exclude(user=user).exists()
        or UsageRecord.objects.filter(cluster=cluster, username=username)
        .exclude(user=user)
        .exists()
    )
    if recorded:
        raise ServiceError(
            _("The username %(username)s belongs to someone else on this cluster.")
            % {"username": username},
            field="username",
        )


def _username(value: Any) -> str:
    """A username jobs may run as (the Slurm backend's ``check_username`` accepts it too)."""
    if not isinstance(value, str) or not USERNAME_RE.fullmatch(value.strip()):
        raise ValidationError(
            {
                "username": _(
                    "Use a Unix username: a lower-case letter or underscore, then up to 31 "
                    "lower-case letters, digits, hyphens or underscores."
                )
            }
        )
    value = value.strip()
    if value in FORBIDDEN_USERNAMES:
        raise ValidationError({"username": _("Jobs never run as root or slurm.")})
    return value


def _account_write(
    *, actor, cluster: Cluster, user, username: str, source: str, changes: dict | None = None
) -> tuple[ClusterAccount, bool]:
    """Create or change the person's account on the cluster, audited; returns it and whether
    it changed. A username belongs to one person on a cluster; the provider (``source="oidc"``)
    never changes a mapping an operator made."""

    def taken() -> ServiceError:
        return ServiceError(
            _("The username %(username)s belongs to someone else on this cluster.")
            % {"username": username},
            field="username",
        )

    if (
        ClusterAccount.objects.filter(cluster=cluster, username=username)
        .exclude(user=user)
        .exists()
    ):
        raise taken()
    try:
        with transaction.atomic():
            account, created = ClusterAccount.objects.select_for_update().get_or_create(
                cluster=cluster, user=user, defaults={"username": username, "source": source}
            )
            if not created and source == "oidc" and account.source != "oidc":
                return account, False
            old_username = "" if created else account.username
            old_source = "" if created else account.source
            if created or (old_username, old_source) == (username, source):
                changed = created
            else:
                account.username, account.source = username, source
                account.save(update_fields=["username", "source", "updated_at"])
                changed = True
            if changed:
                audit_record(
                    actor=actor,
                    action="cluster.account_set",
                    obj=cluster,
                    changes={
                        "user": user.pk,
                        "username": [old_username, username],
                        "source": [old_source, source],
                        **(changes or {}),
                    },
                )
    except IntegrityError:
        raise taken() from None
    return account, changed


# --- provisioning ------------------------------------------------------------------------------


def allocation_limits(allocation, today=None) -> Limits:
    """The scheduler limits for the allocation today, in whole minutes (None: the allocation does
    not grant that resource, so it is not limited).

    Slurm compares ``GrpTRESMins`` with the account's running total (no decay, no reset), so the
    limit is everything the allocation has used so far plus what its current tranche still
    holds: Slurm then stops exactly where the portal does. Outside its period, or once ended,
    only what its running and queued jobs may still use is left: the scheduler starts no new
    work, and does not kill the jobs that run (Slurm kills running jobs at GrpTRESMins)."""
    from .jobs import _reserved, job_budget
    from .usage import usage_totals

    budget = job_budget(allocation, today) if allocation.status == "active" else {}
    reserved = _reserved(allocation) if not budget else {}
    used = usage_totals(allocation)
    granted = _granted_keys(allocation)

    def minutes(resource):
        if resource not in granted:
            return None
        left = budget[resource]["available"] if resource in budget else reserved.get(resource, 0)
        total = Decimal(str(left)) + Decimal(str(used[resource]))
        return int(total * 60)

    return Limits(gpu_minutes=minutes("gpu_hours"), cpu_minutes=minutes("cpu_core_hours"))


def _granted_keys(allocation) -> set[str]:
    return {k for t in allocation.tranches.all() for k in t.amounts}


def allocation_provision(*, actor, allocation, cluster: Cluster, today=None) -> Limits:
    """Create or update the allocation's account on the cluster, with the project's members who
    have a username there, and its limits (what its current tranche still holds), so the
    scheduler itself stops jobs once the budget is spent. The periodic reconcile
    (provisioning.py) does the same by itself; this is the operator's "now"."""
    from .provisioning import provision_wanted, provision_write

    require_actor(actor, "cluster.manage", cluster)
    if not allocation.slurm_account:
        raise ServiceError(_("This allocation has no Slurm account."), field="allocation")
    if allocation.cluster and allocation.cluster != cluster.name:
        raise ServiceError(
            _("This allocation is for the cluster %(name)s.") % {"name": allocation.cluster},
            field="cluster",
        )
    usernames, limits = provision_wanted(allocation, cluster, today)
    try:
        provision_write(cluster, allocation, usernames, limits, actor=actor)
    except BackendError as exc:
        raise ServiceError(
            _("The cluster did not take the account: %(error)s") % {"error": exc}
        ) from exc
    return limits
