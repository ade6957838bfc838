"""Compute backends: the only code that talks to a scheduler (see base.py for the interface).

Nothing here imports Django at module level: the local backend's runner process imports this
package without settings.
"""

from .base import BackendRefused, ComputeBackend


def backend_for(cluster) -> ComputeBackend:
    """The backend that runs the cluster's jobs (raises BackendRefused when it cannot be used)."""
    if cluster.backend == "local":
        from .local import LocalBackend

        return LocalBackend(cluster)
    if cluster.backend == "slurm":
        from .slurm import SlurmBackend

        return SlurmBackend(cluster)
    raise BackendRefused(f"cluster {cluster.name}: unknown backend {cluster.backend!r}")
