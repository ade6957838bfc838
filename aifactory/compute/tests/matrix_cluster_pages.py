"""Authorization rules of the operators' cluster pages, merged in matrix_rules.py: only operators
and administrators add and change clusters, partitions and cluster usernames; everyone else
signed in gets 403 and changes nothing; anonymous visitors go to the sign-in page.

The pages work on the local cluster that matrix_pages.py sets up (with its partition "main")."""

from aifactory.compute.models import Cluster, ClusterAccount, Partition
from aifactory.core.tests.matrix import LOGIN, Rule, by_role

from .matrix_pages import CLUSTER

OPERATORS = frozenset({"operator", "administrator"})
SAVED = by_role(403, **LOGIN, operator=302, administrator=302)
BASE = f"/clusters/{CLUSTER}/"


def _created(w, role):
    return Cluster.objects.filter(name=f"new-{role}").exists()


def _updated(w, role):
    return Cluster.objects.get(name=CLUSTER).title == f"Changed by {role}"


def _partition_added(w, role):
    return Partition.objects.filter(cluster__name=CLUSTER, name=f"p-{role}").exists()


def _partition_changed(w, role):
    return Partition.objects.get(cluster__name=CLUSTER, name="main").nodes == 3


def _mapped(w, role):
    return ClusterAccount.objects.filter(cluster__name=CLUSTER, username="outsider_m").exists()


RULES: dict[str, Rule] = {
    "compute:cluster_new": Rule(
        "post",
        "/clusters/new/",
        SAVED,
        body=lambda w, role: {"name": f"new-{role}", "backend": "local"},
        effect=_created,
        done_by=OPERATORS,
    ),
    "compute:cluster_edit": Rule(
        "post",
        BASE + "edit/",
        SAVED,
        body=lambda w, role: {"title": f"Changed by {role}", "is_active": "on"},
        effect=_updated,
        done_by=OPERATORS,
    ),
    "compute:partition_new": Rule(
        "post",
        BASE + "partitions/new/",
        SAVED,
        body=lambda w, role: {
            "name": f"p-{role}",
            "nodes": 1,
            "gpus_per_node": 0,
            "cpus_per_node": 1,
            "mem_gb_per_node": 1,
            "max_time_minutes": 60,
        },
        effect=_partition_added,
        done_by=OPERATORS,
    ),
    "compute:partition_edit": Rule(
        "post",
        BASE + "partitions/main/edit/",
        SAVED,
        body={
            "nodes": 3,
            "gpus_per_node": 2,
            "cpus_per_node": 4,
            "mem_gb_per_node": 8,
            "max_time_minutes": 600,
            "is_default": "on",
        },
        effect=_partition_changed,
        done_by=OPERATORS,
    ),
    "compute:cluster_accounts": Rule(
        "post",
        BASE + "accounts/",
        SAVED,
        body={"person": "outsider@matrix.test", "username": "outsider_m"},
        effect=_mapped,
        done_by=OPERATORS,
    ),
}
