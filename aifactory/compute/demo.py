"""Demo compute: the `meluxina-ai` cluster the demo allocations name, run by the local backend on
this machine (a stand-in for the supercomputer), with a GPU partition and cluster usernames for
the demo start-up's people, so the founder can submit a job from the portal right after
`make run`. Made through the services; idempotent (what exists is left as it is).
"""

import os

from django.db import transaction

from aifactory.accounts.models import User

from .models import Cluster, ClusterAccount
from .services.clusters import cluster_account_set, cluster_create, partition_set

CLUSTER = "meluxina-ai"
# Demo person → cluster username.
ACCOUNTS = {"founder@orbital.demo": "orbital_founder", "engineer@orbital.demo": "orbital_paul"}


def load_demo_compute() -> str:
    created = []
    with transaction.atomic():
        cluster = Cluster.objects.filter(name=CLUSTER).first()
        if cluster is None:
            cluster = cluster_create(
                actor=None,
                name=CLUSTER,
                backend="local",
                title="MeluXina-AI (demo: jobs run on this machine)",
                config={"max_jobs": 2},
                rates={"gpu_hour": 1, "cpu_hour": "0.01"},
                power={"gpu_watts": 400, "node_watts": 800},
                pue="1.2",
                grid=60,
                is_demo=True,
            )
            partition_set(
                actor=None,
                cluster=cluster,
                name="gpu",
                nodes=1,
                gpus_per_node=4,
                gpu_type="A100 (simulated)",
                cpus_per_node=max(1, os.cpu_count() or 1),
                mem_gb_per_node=8,
                max_time_minutes=240,
                is_default=True,
            )
            created.append("cluster")
        for email, username in ACCOUNTS.items():
            user = User.objects.filter(email=email, is_demo=True).first()
            if user is None or ClusterAccount.objects.filter(cluster=cluster, user=user).exists():
                continue
            cluster_account_set(actor=None, cluster=cluster, user=user, username=username)
            created.append(username)
    return f"demo compute: {', '.join(created) or 'nothing new'}"
