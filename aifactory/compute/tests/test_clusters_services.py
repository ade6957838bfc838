"""Cluster services: creation and update with their checks, partitions with one default,
cluster usernames (never root), and provisioning an allocation's account and limits."""

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from aifactory.compute import services
from aifactory.compute.models import Cluster, ClusterAccount, Partition
from aifactory.core.errors import ServiceError
from aifactory.core.models import AuditEvent

from .helpers import *  # noqa: F403 - the fixtures
from .helpers import make_cluster, usage


def create(**overrides):
    kwargs = {"actor": None, "name": "meluxina", "backend": "local"}
    kwargs.update(overrides)
    return services.cluster_create(**kwargs)


def test_cluster_create_with_numbers_and_audit(db, team):
    cluster = create(
        actor=team["operator"],
        title="MeluXina",
        config={"max_jobs": "3"},
        rates={"gpu_hour": "1.5", "cpu_hour": 0},
        power={"gpu_watts": 700, "node_watts": 900},
        pue="1.15",
        grid=58,
        sync_seconds=30,
    )
    cluster.refresh_from_db()
    assert cluster.config == {"max_jobs": 3}
    assert cluster.rate_gpu_hour == Decimal("1.5") and cluster.gpu_watts == 700
    assert cluster.pue == Decimal("1.15") and cluster.grid_g_co2_per_kwh == 58
    assert cluster.sync_seconds == 30
    event = AuditEvent.objects.get(action="cluster.create")
    assert event.actor == team["operator"] and event.object_id == str(cluster.pk)


def test_only_operators_manage_clusters(db, team):
    with pytest.raises(PermissionDenied):
        create(actor=team["pi"])
    cluster = create()
    with pytest.raises(PermissionDenied):
        services.partition_set(actor=team["pi"], cluster=cluster, name="gpu")
    with pytest.raises(PermissionDenied):
        services.cluster_account_set(
            actor=team["pi"], cluster=cluster, user=team["pi"], username="pi"
        )


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": "Bad Name"}, "name"),
        ({"name": ""}, "name"),
        ({"backend": "pbs"}, "backend"),
        ({"config": {"max_job": 2}}, "config.max_job"),
        ({"config": {"max_jobs": 0}}, "config.max_jobs"),
        ({"config": {"allow_in_production": "yes"}}, "config.allow_in_production"),
        ({"config": {"run_as": "root"}}, "config.run_as"),
        ({"config": []}, "config"),
        ({"backend": "slurm", "config": {"mode": "ssh"}}, "config.mode"),
        (
            {"backend": "slurm", "config": {"workdir_root": "/w", "rest_url": "ftp://x"}},
            "config.rest_url",
        ),
        ({"backend": "slurm", "config": {"mode": "cli"}}, "config.workdir_root"),
        ({"rates": {"gpu_hour": -1}}, "rates.gpu_hour"),
        ({"rates": {"gpu": 1}}, "rates"),
        ({"power": {"gpu_watts": "a lot"}}, "power.gpu_watts"),
        ({"pue": "0.9"}, "pue"),
        ({"grid": -5}, "grid"),
        ({"sync_seconds": 0}, "sync_seconds"),
    ],
)
def test_cluster_create_names_the_bad_field(db, overrides, field):
    with pytest.raises(ValidationError) as error:
        create(**overrides)
    assert field in error.value.error_dict
    assert not Cluster.objects.exists()


def test_cluster_name_once(db):
    create()
    with pytest.raises(ServiceError, match="exists already"):
        create()


def test_cluster_update_changes_only_what_is_given(db, team):
    cluster = create(pue="1.3")
    services.cluster_update(
        actor=team["operator"], cluster=cluster, rates={"cpu_hour": 2}, is_active=False
    )
    cluster.refresh_from_db()
    assert cluster.rate_cpu_hour == 2 and cluster.pue == Decimal("1.3") and not cluster.is_active
    event = AuditEvent.objects.get(action="cluster.update")
    assert set(event.changes) == {"rate_cpu_hour", "is_active"}
    with pytest.raises(ValidationError):
        services.cluster_update(actor=None, cluster=cluster, config={"mode": "rest"})


def test_partitions_have_one_default(db):
    cluster = create()
    first = services.partition_set(actor=None, cluster=cluster, name="cpu", cpus_per_node=8)
    assert first.is_default  # the first one is the default anyway
    gpu = services.partition_set(
        actor=None, cluster=cluster, name="gpu", gpus_per_node=4, gpu_type="a100", is_default=True
    )
    first.refresh_from_db()
    assert gpu.is_default and not first.is_default
    services.partition_set(actor=None, cluster=cluster, name="gpu", gpus_per_node=8)
    gpu.refresh_from_db()
    assert gpu.gpus_per_node == 8 and Partition.objects.filter(cluster=cluster).count() == 2
    assert Partition.objects.filter(cluster=cluster, is_default=True).count() == 1
    with pytest.raises(ValidationError) as error:
        services.partition_set(actor=None, cluster=cluster, name="x", cpus_per_node=0)
    assert "cpus_per_node" in error.value.error_dict


@pytest.mark.parametrize("username", ["root", "slurm", "Alice", "1abc", "a b", "x" * 33, ""])
def test_cluster_account_refuses_bad_usernames(db, team, username):
    cluster = create()
    with pytest.raises(ValidationError) as error:
        services.cluster_account_set(
            actor=None, cluster=cluster, user=team["pi"], username=username
        )
    assert "username" in error.value.error_dict


def test_cluster_account_once_per_cluster(db, team):
    cluster, other = create(), create(name="other")
    services.cluster_account_set(actor=None, cluster=cluster, user=team["pi"], username="ada")
    with pytest.raises(ServiceError, match="belongs to someone else"):
        services.cluster_account_set(
            actor=None, cluster=cluster, user=team["member"], username="ada"
        )
    services.cluster_account_set(actor=None, cluster=other, user=team["member"], username="ada")
    services.cluster_account_set(actor=None, cluster=cluster, user=team["pi"], username="ada_l")
    assert ClusterAccount.objects.get(cluster=cluster, user=team["pi"]).username == "ada_l"
    assert AuditEvent.objects.filter(action="cluster.account_set").count() == 3


def test_allocation_provision_limits_and_audit(team, cluster, allocation, accounts):
    usage(cluster, allocation, "u1", gpu_hours="2.5", cpu_core_hours=4)
    limits = services.allocation_provision(
        actor=team["operator"], allocation=allocation, cluster=cluster
    )
    # Slurm compares the limit with the account's running total: used + what remains.
    assert limits.gpu_minutes == 10 * 60 and limits.cpu_minutes == 20 * 60
    event = AuditEvent.objects.get(action="allocation.limit_change")
    assert event.changes["usernames"] == ["member_lab", "pi_lab"]
    assert event.changes["account"] == allocation.slurm_account
    with pytest.raises(PermissionDenied):
        services.allocation_provision(actor=team["pi"], allocation=allocation, cluster=cluster)
    other = make_cluster(name="other")
    with pytest.raises(ServiceError, match="laptop"):
        services.allocation_provision(actor=None, allocation=allocation, cluster=other)
