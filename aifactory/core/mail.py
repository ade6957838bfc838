import logging
import smtplib
from contextlib import contextmanager
from contextvars import ContextVar

from django.core.mail import send_mail

logger = logging.getLogger(__name__)
_muted: ContextVar[bool] = ContextVar("mail_muted", default=False)


@contextmanager
def muted():
    """No e-mail for what happens inside: the demo data, whose addresses are made up."""
    token = _muted.set(True)
    try:
        yield
    finally:
        _muted.reset(token)


def mail_muted() -> bool:
    """Whether mail is muted here; callers that prepare messages may skip the work."""
    return _muted.get()


def mail_send(*, subject: str, body: str, to: list[str]) -> bool:
    """Send one message; a mail server that fails is logged, not turned into a lost request.

    Callers commit their own work first, so the person can ask for the message again.
    """
    if _muted.get():
        return False
    try:
        send_mail(subject, body, None, to)
    except (smtplib.SMTPException, OSError) as exc:
        logger.error("could not send %r to %s: %s", subject, ", ".join(to), exc)
        return False
    return True
