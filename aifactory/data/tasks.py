"""Background tasks of data: fetching versions by reference, profiling and quality checks of new
versions, expiring grants, harvesting, and sweeping what a stopped worker left. Each calls one
service and holds no logic."""

from django_tasks import task


@task()
def version_fetch(version_id: str) -> str:
    """Fetch the files of a version added by reference; returns the version's status."""
    from . import services

    return services.version_fetch(version_id)


@task()
def version_profile(version_id: str) -> str:
    """Profile the tabular files of a new version and run its quality checks."""
    from . import services

    return services.version_profile(version_id)


@task()
def uploads_expire_due() -> int:
    """Drop resumable uploads that expired unfinished (their staged bytes too)."""
    from . import services

    return services.uploads_expire()


@task()
def grants_expire_due() -> int:
    from . import services

    return services.grants_expire_due()


@task()
def harvest_source(source_id: str) -> dict:
    from . import services

    return services.harvest_run(source_id)


@task()
def harvest_due() -> list[str]:
    from . import services

    return services.harvest_due()


@task()
def data_sweep_due() -> dict:
    """End the work a stopped worker left behind (versions, profiling, harvests, partial files)."""
    from . import services

    return services.data_sweep()
