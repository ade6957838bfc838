"""Private helpers shared by the account services."""

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy


def _clean_email(email: str, field: str = "email") -> str:
    email = (email or "").strip()
    if len(email) > 254:
        raise ValidationError({field: _("An e-mail address has at most 254 characters.")})
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({field: _("Enter a valid e-mail address.")}) from None
    return email.lower()


NUL_MESSAGE = _lazy("Remove the invisible NUL character from this text.")


def _check_length(field: str, value: str, limit: int) -> None:
    """The length limit, and no NUL character: PostgreSQL cannot store one."""
    if value is not None and "\x00" in value:
        raise ValidationError({field: NUL_MESSAGE})
    if value is not None and len(value) > limit:
        raise ValidationError(
            {
                field: _("At most %(limit)d characters (%(count)d given).")
                % {"limit": limit, "count": len(value)}
            }
        )
