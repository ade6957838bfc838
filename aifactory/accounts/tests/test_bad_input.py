"""Bad input: every mistake is a 422 problem naming the field, and nothing is written."""

import pytest
from django.core.exceptions import ValidationError

from aifactory.accounts import services
from aifactory.accounts.models import Membership, Organisation, User
from aifactory.core.models import AuditEvent

pytestmark = pytest.mark.django_db

VALID = {
    "legal_name": "Kieffer Solutions S.A.",
    "country": "LU",
    "kind": "sme",
    "registration_number": "B123456",
    "vat_number": "LU26375245",
    "sectors": ["finance"],
}


def counts():
    return (
        Organisation.objects.count(),
        Membership.objects.count(),
        AuditEvent.objects.count(),
        User.objects.count(),
    )


@pytest.fixture
def client(api, make_user):
    return api(make_user())


def refused(client, data, field, *, path="/organisations", method="post"):
    """Send the data, expect a 422 naming the field, and check that nothing was written."""
    before = counts()
    response = getattr(client, method)(path, data)
    assert response.status_code == 422, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert field in body["errors"], body
    assert all(isinstance(m, str) and m for m in body["errors"][field])
    assert counts() == before
    return body


def test_the_valid_example_is_accepted(client):
    response = client.post("/organisations", VALID)
    assert response.status_code == 201, response.content


@pytest.mark.parametrize(
    ("country", "vat", "stored"),
    [
        ("LU", "LU26375245", "LU26375245"),
        ("LU", "lu 2637 5245", "LU26375245"),
        ("DE", "DE136695976", "DE136695976"),
        ("DE", "DE 136.695.976", "DE136695976"),
        ("FR", "FR40303265045", "FR40303265045"),
        ("BE", "BE0403170701", "BE0403170701"),
    ],
)
def test_valid_vat_numbers_are_normalised(client, country, vat, stored):
    data = {**VALID, "country": country, "vat_number": vat, "registration_number": ""}
    response = client.post("/organisations", data)
    assert response.status_code == 201, response.content
    assert response.json()["vat_number"] == stored


@pytest.mark.parametrize(
    ("country", "vat", "fragment"),
    [
        ("LU", "LU26375246", "not a valid"),  # wrong check digits
        ("DE", "DE136695977", "not a valid"),
        ("LU", "LU2637524", "not a valid"),  # too short
        ("LU", "LUABCDEFGH", "not a valid"),
        ("LU", "26375245X", "not a valid"),
        ("LU", "XX123456789", "not a valid"),
        ("LU", "DE136695976", "country is LU"),  # valid, but of another country
        ("DE", "LU26375245", "country is DE"),
    ],
)
def test_invalid_vat_numbers(client, country, vat, fragment):
    data = {**VALID, "country": country, "vat_number": vat, "registration_number": ""}
    body = refused(client, data, "vat_number")
    assert fragment in " ".join(body["errors"]["vat_number"])


@pytest.mark.parametrize("number", ["B1", "B123456", "b 123 456", "L999999", "A12"])
def test_valid_luxembourg_rcs_numbers(client, number):
    response = client.post("/organisations", {**VALID, "registration_number": number})
    assert response.status_code == 201, response.content
    assert response.json()["registration_number"] == number.upper().replace(" ", "")


@pytest.mark.parametrize(
    "number", ["123456", "B1234567", "BB123", "Z123456", "B-123456", "B12345A", "B"]
)
def test_invalid_luxembourg_rcs_numbers(client, number):
    body = refused(client, {**VALID, "registration_number": number}, "registration_number")
    assert "B123456" in body["errors"]["registration_number"][0]


def test_registration_numbers_of_other_countries_are_checked_loosely(client):
    data = {**VALID, "country": "DE", "vat_number": "", "registration_number": "HRB 12345"}
    assert client.post("/organisations", data).status_code == 201
    refused(client, {**data, "registration_number": "H?"}, "registration_number")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("sectors", ["finance", "alchemy"]),
        ("country", "XX"),
        ("country", ""),
        ("kind", "cooperative"),
        ("legal_name", ""),
        ("legal_name", "   "),
        ("website", "kieffer.lu"),
        ("website", "ftp://kieffer.lu"),
        ("website", "javascript:alert(1)"),
        ("staff_headcount", -1),
        ("annual_turnover_eur", -5),
        ("balance_sheet_eur", 10**14),
    ],
)
def test_bad_fields(client, field, value):
    refused(client, {**VALID, field: value}, field)


def test_unknown_sector_is_named(client):
    body = refused(client, {**VALID, "sectors": ["finance", "alchemy"]}, "sectors")
    assert "alchemy" in body["errors"]["sectors"][0]


@pytest.mark.parametrize(
    ("field", "limit"),
    [
        ("legal_name", 200),
        ("street", 200),
        ("postcode", 20),
        ("city", 100),
    ],
)
def test_oversize_fields(client, field, limit):
    assert client.post("/organisations", {**VALID, field: "x" * limit}).status_code == 201
    Organisation.objects.all().delete()
    body = refused(client, {**VALID, field: "x" * (limit + 1)}, field)
    assert str(limit) in body["errors"][field][0]


def test_oversize_website_and_registration(client):
    refused(client, {**VALID, "website": "https://example.org/" + "a" * 281}, "website")
    data = {**VALID, "country": "DE", "vat_number": "", "registration_number": "H" * 41}
    refused(client, data, "registration_number")


def test_all_mistakes_are_reported_together(client):
    data = {
        **VALID,
        "legal_name": "x" * 201,
        "kind": "guild",
        "sectors": ["alchemy"],
        "registration_number": "123",
    }
    body = refused(client, data, "legal_name")
    assert {"legal_name", "kind", "sectors", "registration_number"} <= set(body["errors"])


def test_missing_required_fields_are_named(client):
    body = refused(client, {"country": "LU"}, "legal_name")
    assert "kind" in body["errors"]


# --- duplicates ---------------------------------------------------------------------------------


@pytest.fixture
def existing(make_org):
    return make_org(**VALID)


def test_duplicate_registration_number(client, existing):
    data = {**VALID, "legal_name": "Other name", "vat_number": "", "registration_number": "b123456"}
    refused(client, data, "registration_number")


def test_same_registration_number_in_another_country_is_allowed(client, existing):
    data = {**VALID, "country": "DE", "vat_number": "", "registration_number": "B123456"}
    assert client.post("/organisations", data).status_code == 201


def test_duplicate_vat_number(client, existing):
    data = {
        **VALID,
        "legal_name": "Other name",
        "registration_number": "",
        "vat_number": "LU 2637 5245",
    }
    refused(client, data, "vat_number")


def test_duplicate_name_in_the_same_country(client, existing):
    data = {"legal_name": VALID["legal_name"].upper(), "country": "LU", "kind": "sme"}
    refused(client, data, "legal_name")


def test_same_name_in_another_country_is_allowed(client, existing):
    data = {"legal_name": VALID["legal_name"], "country": "BE", "kind": "sme"}
    assert client.post("/organisations", data).status_code == 201


def test_update_to_a_duplicate_is_refused_and_changes_nothing(api, make_user, make_org, existing):
    owner = make_user()
    other = make_org(owner=owner, legal_name="Second S.A.")
    refused(
        api(owner),
        {"vat_number": VALID["vat_number"], "city": "Wiltz"},
        "vat_number",
        path=f"/organisations/{other.pk}",
        method="patch",
    )
    other.refresh_from_db()
    assert (other.vat_number, other.city) == ("", "")


def test_update_keeping_its_own_identifiers_is_fine(api, make_user, make_org):
    owner = make_user()
    organisation = make_org(owner=owner, **VALID)
    response = api(owner).patch(f"/organisations/{organisation.pk}", {**VALID, "city": "Wiltz"})
    assert response.status_code == 200, response.content


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"legal_name": None}, "legal_name"),
        ({"country": None}, "country"),
        ({"kind": "guild"}, "kind"),
        ({"size_class": "micro"}, "size_class"),
        ({"is_demo": True}, "is_demo"),
        ({"vat_number": "LU26375246"}, "vat_number"),
    ],
)
def test_bad_updates(api, make_user, make_org, data, field):
    owner = make_user()
    organisation = make_org(owner=owner)
    before = Organisation.objects.values().get(pk=organisation.pk)
    refused(api(owner), data, field, path=f"/organisations/{organisation.pk}", method="patch")
    assert Organisation.objects.values().get(pk=organisation.pk) == before


def test_service_refuses_fields_that_cannot_be_changed(make_user, make_org):
    owner = make_user()
    organisation = make_org(owner=owner)
    with pytest.raises(ValidationError) as caught:
        services.organisation_update(
            actor=owner, organisation=organisation, data={"size_class": "large"}
        )
    assert "size_class" in caught.value.message_dict


def test_service_refuses_text_fields_of_the_wrong_type(make_user):
    owner = make_user()
    with pytest.raises(ValidationError) as caught:
        services.organisation_create(
            actor=owner,
            data={"legal_name": 42, "country": "LU", "kind": "sme", "sectors": "crafts"},
        )
    assert {"legal_name", "sectors"} <= set(caught.value.message_dict)
    assert not Organisation.objects.exists()


# --- people --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "email",
    ["", "no-at-sign", "two@@example.org", "a@b", "spaces in@example.org", "x" * 250 + "@ex.org"],
)
def test_malformed_email_addresses_are_refused(email):
    with pytest.raises(ValidationError) as caught:
        services.user_sign_up(email=email, password="correct-Horse-battery-9", accept_terms=True)
    assert "email" in caught.value.message_dict
    assert not User.objects.exists()
    assert not AuditEvent.objects.exists()


def test_weak_password_is_refused_naming_the_field():
    with pytest.raises(ValidationError) as caught:
        services.user_sign_up(email="lena@example.org", password="password", accept_terms=True)
    assert "password" in caught.value.message_dict
    assert not User.objects.exists()


def test_oversize_names_are_refused():
    with pytest.raises(ValidationError) as caught:
        services.user_create(email="lena@example.org", password=None, first_name="L" * 151)
    assert "first_name" in caught.value.message_dict
    assert not User.objects.exists()


def test_duplicate_email_in_any_case_is_refused(make_user):
    make_user("lena@example.org")
    with pytest.raises(ValidationError) as caught:
        services.user_create(email="LENA@example.org", password=None)
    assert "email" in caught.value.message_dict
    assert User.objects.count() == 1


def test_me_rejects_oversize_names(api, make_user):
    user = make_user()
    body = api(user).patch("/me", {"last_name": "x" * 151}).json()
    assert "last_name" in body["errors"]
    user.refresh_from_db()
    assert user.last_name == ""


# --- values the database itself would refuse (PostgreSQL) -----------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("staff_headcount", 3_000_000_000),  # beyond a 32-bit integer column
        ("staff_headcount", 10_000_001),
        ("legal_name", "Kieffer\x00 S.A."),
        ("city", "Wiltz\x00"),
        ("street", "\x00"),
    ],
)
def test_values_the_database_cannot_store(client, field, value):
    refused(client, {**VALID, field: value}, field)


def test_largest_accepted_figures_are_stored(client):
    data = {
        **VALID,
        "staff_headcount": 10_000_000,
        "annual_turnover_eur": 10**13,
        "balance_sheet_eur": 10**13,
    }
    response = client.post("/organisations", data)
    assert response.status_code == 201, response.content
    assert response.json()["size_class"] == "large"


@pytest.mark.parametrize(
    ("method", "path", "data", "field"),
    [
        ("patch", "/me", {"first_name": "Le\x00na"}, "first_name"),
        ("patch", "/me", {"last_name": "\x00"}, "last_name"),
    ],
)
def test_nul_characters_are_refused_everywhere(client, method, path, data, field):
    refused(client, data, field, path=path, method=method)
