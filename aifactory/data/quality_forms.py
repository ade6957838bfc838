"""The form of the quality page: the declared schema and the checks as JSON, the key as names.
The service validates again and names the check and field it refuses."""

import json

from django import forms
from django.utils.translation import gettext_lazy as _

from aifactory.core.forms import PortalForm


class JSONListField(forms.CharField):
    widget = forms.Textarea(attrs={"rows": 8, "class": "mono", "spellcheck": "false"})

    def prepare_value(self, value):
        if isinstance(value, list):
            return json.dumps(value, indent=2, ensure_ascii=False) if value else ""
        return value

    def to_python(self, value):
        value = (super().to_python(value) or "").strip()
        if not value:
            return []
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(
                _("Not valid JSON (line %(line)s, column %(col)s): %(error)s"),
                params={"line": exc.lineno, "col": exc.colno, "error": exc.msg},
            ) from None
        if not isinstance(parsed, list):
            raise forms.ValidationError(_("Give a JSON list: [ ... ]."))
        return parsed


class QualityForm(PortalForm):
    declared_schema = JSONListField(
        label=_("Declared schema"),
        required=False,
        help_text=_(
            'A list of columns, e.g. [{"name": "id", "type": "integer", "required": true}]. '
            "Types: string, integer, number, boolean, date, datetime; optional min, max, "
            "allowed and pattern."
        ),
    )
    key_columns = forms.CharField(
        label=_("Key columns"),
        required=False,
        max_length=2000,
        help_text=_("The columns that together identify a row, separated by commas."),
    )
    checks = JSONListField(
        label=_("Own checks"),
        required=False,
        help_text=_(
            'A list of checks, e.g. [{"check": "between", "column": "age", "min": 0, '
            '"max": 120}]. See the data quality guide for every kind.'
        ),
    )

    def clean_key_columns(self):
        value = self.cleaned_data.get("key_columns") or ""
        if isinstance(value, list):
            return value
        return [c.strip() for c in value.split(",") if c.strip()]
