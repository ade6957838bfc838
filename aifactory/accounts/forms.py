"""Forms of the portal. They only read and shape input; the services decide what is valid."""

from django import forms
from django.conf import settings
from django.contrib.auth.forms import PasswordResetForm, SetPasswordForm
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_countries import countries

from aifactory.core.forms import PortalForm
from aifactory.core.roles import OrgRole
from aifactory.core.taxonomy import OrganisationKind, Sector

from . import services
from .services import MAX_TOKEN_DAYS


def _email_field(**kwargs) -> forms.EmailField:
    return forms.EmailField(
        label=gettext_lazy("E-mail address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
        **kwargs,
    )


class SignUpForm(PortalForm):
    email = _email_field()
    first_name = forms.CharField(
        label=gettext_lazy("First name"),
        max_length=150,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "given-name"}),
    )
    last_name = forms.CharField(
        label=gettext_lazy("Last name"),
        max_length=150,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "family-name"}),
    )
    password = forms.CharField(
        label=gettext_lazy("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=gettext_lazy("At least 8 characters; not only digits, not a common password."),
    )
    password2 = forms.CharField(
        label=gettext_lazy("Password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    accept_terms = forms.BooleanField(
        label=gettext_lazy("I accept the terms of use"), required=False
    )

    def clean(self):
        data = super().clean()
        if data.get("password") and data.get("password2") != data.get("password"):
            self.add_error("password2", _("The two passwords differ."))
        return data


class LoginForm(PortalForm):
    email = _email_field()
    password = forms.CharField(
        label=gettext_lazy("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class EmailForm(PortalForm):
    email = _email_field()


class ProfileForm(PortalForm):
    first_name = forms.CharField(label=gettext_lazy("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=gettext_lazy("Last name"), max_length=150, required=False)
    preferred_language = forms.ChoiceField(
        label=gettext_lazy("Preferred language"),
        required=False,
        help_text=gettext_lazy("Used after you sign in and for e-mails we send you."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["preferred_language"].choices = [
            ("", _("Same as my browser")),
            *[(code, _(name)) for code, name in settings.LANGUAGES],
        ]


class TokenForm(PortalForm):
    name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=100,
        required=False,
        help_text=gettext_lazy("Where you will use it, e.g. “laptop” or “CI pipeline”."),
    )
    expires_in_days = forms.IntegerField(
        label=gettext_lazy("Expires in (days)"),
        initial=90,
        min_value=1,
        max_value=MAX_TOKEN_DAYS,
    )


def _country_choices():
    return [("", _("Choose a country")), *countries]


def _kind_choices():
    return [("", _("Choose a kind")), *OrganisationKind.choices]


class OrganisationForm(PortalForm):
    """The fields of an organisation; names match the service's data keys."""

    legal_name = forms.CharField(
        label=gettext_lazy("Legal name"),
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "organization", "required": True}),
    )
    country = forms.ChoiceField(
        label=gettext_lazy("Country"),
        choices=_country_choices,
        required=False,
        widget=forms.Select(attrs={"required": True}),
    )
    kind = forms.ChoiceField(
        label=gettext_lazy("Kind"),
        choices=_kind_choices,
        required=False,
        widget=forms.Select(attrs={"required": True}),
    )
    registration_number = forms.CharField(
        label=gettext_lazy("Registration number"),
        max_length=40,
        required=False,
        help_text=gettext_lazy("In Luxembourg the RCS number, e.g. B123456."),
    )
    vat_number = forms.CharField(
        label=gettext_lazy("VAT number"),
        max_length=30,
        required=False,
        help_text=gettext_lazy("EU VAT number with country prefix, e.g. LU12345613."),
    )
    sectors = forms.MultipleChoiceField(
        label=gettext_lazy("Sectors"),
        choices=Sector.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    staff_headcount = forms.IntegerField(
        label=gettext_lazy("Staff headcount"), min_value=0, required=False
    )
    annual_turnover_eur = forms.IntegerField(
        label=gettext_lazy("Annual turnover (EUR)"), min_value=0, required=False
    )
    balance_sheet_eur = forms.IntegerField(
        label=gettext_lazy("Balance sheet total (EUR)"), min_value=0, required=False
    )
    website = forms.CharField(
        label=gettext_lazy("Website"),
        max_length=300,
        required=False,
        widget=forms.URLInput(attrs={"placeholder": "https://"}),
    )
    street = forms.CharField(
        label=gettext_lazy("Street and number"), max_length=200, required=False
    )
    postcode = forms.CharField(label=gettext_lazy("Postcode"), max_length=20, required=False)
    city = forms.CharField(label=gettext_lazy("City"), max_length=100, required=False)

    SIZE_FIELDS = ("staff_headcount", "annual_turnover_eur", "balance_sheet_eur")
    ADDRESS_FIELDS = ("website", "street", "postcode", "city")

    @classmethod
    def initial_from(cls, organisation) -> dict:
        return {name: getattr(organisation, name) for name in cls.base_fields} | {
            "country": str(organisation.country or "")
        }


def _role_choices(*, with_owner: bool):
    return [(value, label) for value, label in OrgRole.choices if with_owner or value != "owner"]


class InvitationForm(PortalForm):
    email = _email_field()
    role = forms.ChoiceField(label=gettext_lazy("Role"), initial=OrgRole.MEMBER)

    def __init__(self, *args, with_owner: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = _role_choices(with_owner=with_owner)


class RoleForm(PortalForm):
    role = forms.ChoiceField(label=gettext_lazy("Role"), choices=OrgRole.choices)


class PasswordEmailForm(PasswordResetForm):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class PasswordSetForm(SetPasswordForm):
    """Django's reset form, saving through the service so the change is audited."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    def save(self, commit=True):
        return services.user_set_password(
            user=self.user, password=self.cleaned_data["new_password1"]
        )
