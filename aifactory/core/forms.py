"""Glue between Django forms and services, so every page reports refusals the same way."""

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .errors import ServiceError, field_errors


def apply_errors(form: forms.Form | None, exc: ValidationError, request=None) -> None:
    """Copy a service's ValidationError onto the form, next to the fields it names.

    Messages for fields the form does not show go to the top of the form (or, without a form,
    to the page's messages) so nothing the service said is lost.
    """
    for field, errors in field_errors(exc).items():
        for message in errors:
            if form is not None and field in form.fields:
                form.add_error(field, message)
            elif form is not None:
                form.add_error(None, message)
            elif request is not None:
                messages.error(request, message)


def call_service(
    request, service: Callable[..., Any], /, *, form: forms.Form | None = None, **kwargs
) -> tuple[bool, Any]:
    """Run a service; on a refusal tell the person why and return (False, None).

    Views use this so a ServiceError or ValidationError becomes a message or a field error, never
    a server error. PermissionDenied is not caught: a forbidden action answers 403 everywhere.
    """
    try:
        return True, service(**kwargs)
    except ValidationError as exc:
        apply_errors(form, exc, request)
    except ServiceError as exc:
        if form is not None and exc.field in form.fields:
            form.add_error(exc.field, exc.message)
        else:
            messages.error(request, exc.message)
    return False, None


class PortalForm(forms.Form):
    """Labels without Django's trailing colon; the layout sets them apart already."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")


class AuditFilterForm(PortalForm):
    action = forms.CharField(
        label=gettext_lazy("Action starts with"),
        required=False,
        max_length=80,
        widget=forms.TextInput(attrs={"placeholder": "organisation."}),
    )
    object_type = forms.CharField(
        label=gettext_lazy("Object type"),
        required=False,
        max_length=80,
        widget=forms.TextInput(attrs={"placeholder": "accounts.organisation"}),
    )
    actor = forms.CharField(label=gettext_lazy("Actor"), required=False, max_length=254)
    since = forms.DateField(label=gettext_lazy("From"), required=False, widget=DateInput())
    until = forms.DateField(label=gettext_lazy("To"), required=False, widget=DateInput())

    # Dates outside these cannot be turned into a time range in every time zone.
    EARLIEST, LATEST = date(1900, 1, 1), date(9998, 12, 31)

    def _in_range(self, name: str):
        value = self.cleaned_data.get(name)
        if value and not (self.EARLIEST <= value <= self.LATEST):
            raise ValidationError(
                _("Enter a date between %(earliest)s and %(latest)s.")
                % {"earliest": self.EARLIEST.isoformat(), "latest": self.LATEST.isoformat()}
            )
        return value

    def clean_since(self):
        return self._in_range("since")

    def clean_until(self):
        return self._in_range("until")

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and until < since:
            self.add_error("until", _("The end date is before the start date."))
        return data

    def filters(self) -> dict[str, Any]:
        """Selector arguments from the valid fields; the end date counts as a whole day."""
        data = self.cleaned_data if self.is_valid() else {}
        tz = timezone.get_current_timezone()
        since, until = data.get("since"), data.get("until")
        return {
            "action": data.get("action", "").strip(),
            "object_type": data.get("object_type", "").strip(),
            "actor": data.get("actor", "").strip(),
            "since": datetime.combine(since, time.min, tz) if since else None,
            "until": datetime.combine(until + timedelta(days=1), time.min, tz) if until else None,
        }
