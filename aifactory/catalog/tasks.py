"""Background tasks of the catalogue."""

from django_tasks import task

from . import services


@task()
def offering_embed(offering_id: str) -> bool:
    """Bring one offering's stored vector up to date with its text; queued by every service that
    changes the text, so the search index follows without a restart."""
    return services.offering_embed_refresh(offering_id=offering_id)
