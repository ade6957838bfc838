"""Background tasks of core."""

from django_tasks import task

from .services import audit_record


@task()
def ping(message: str = "pong") -> str:
    """A round trip through the queue, so operators and tests can see that a worker runs tasks."""
    audit_record(actor=None, action="worker.ping", changes={"message": message})
    return message
