"""Home, dashboard, audit log, language switch, error pages and the no-CDN rule."""

import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from django.test import Client
from django.utils import timezone

from aifactory.accounts import services
from aifactory.core.models import AuditEvent
from aifactory.core.roles import StaffRole

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def text(response) -> str:
    return response.content.decode()


class Links(HTMLParser):
    """Collects every src/href/action of a page, and the tags they sit on."""

    def __init__(self):
        super().__init__()
        self.found: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("src", "href", "action") and value is not None:
                self.found.append((tag, name, value))


def links_of(html: str) -> list[tuple[str, str, str]]:
    parser = Links()
    parser.feed(html)
    return parser.found


# --- home and dashboard ------------------------------------------------------------------------


def test_home_leads_each_kind_of_visitor_and_has_no_dead_links():
    client = Client()
    page = text(client.get("/"))
    for heading in (
        "My business wants to use AI",
        "I need GPU time",
        "I provide data",
        "I already have an account",
    ):
        assert heading in page
    internal = {v for tag, name, v in links_of(page) if tag == "a" and v.startswith("/")}
    assert "/accounts/login/" in internal and "/accounts/signup/" in internal
    for href in internal:
        assert client.get(href).status_code == 200, href


def test_home_for_a_signed_in_person_links_to_the_dashboard(make_user):
    client = signed_in(make_user())
    page = text(client.get("/"))
    assert 'href="/dashboard/"' in page
    assert 'href="/accounts/login/"' not in page
    for tag, _name, href in links_of(page):
        if tag == "a" and href.startswith("/") and not href.startswith("/api/"):
            assert client.get(href).status_code == 200, href


def test_dashboard_lists_my_organisations_with_my_role(make_user, make_org, add_member):
    me = make_user()
    mine = make_org(owner=me)
    other = make_org()
    add_member(other, me, role="manager")
    unrelated = make_org()
    page = text(signed_in(me).get("/dashboard/"))
    assert mine.legal_name in page and other.legal_name in page
    assert unrelated.legal_name not in page
    assert re.search(re.escape(other.legal_name) + r".*?badge\">manager<", page, re.S)
    assert 'href="/organisations/new/"' in page
    assert 'href="/accounts/tokens/"' in page


def test_navigation_shows_audit_and_admin_only_to_those_allowed(make_user):
    member = text(signed_in(make_user()).get("/dashboard/"))
    assert 'href="/audit/"' not in member
    assert 'href="/admin/"' not in member
    operator = text(signed_in(make_user(staff_role=StaffRole.OPERATOR)).get("/dashboard/"))
    assert 'href="/audit/"' in operator
    assert 'href="/admin/"' not in operator  # the admin site is for administrators only
    advisor = text(signed_in(make_user(staff_role=StaffRole.ADVISOR)).get("/dashboard/"))
    assert 'href="/audit/"' not in advisor


def test_base_layout_has_landmarks_skip_link_and_signed_in_menu(make_user):
    page = text(signed_in(make_user("menu@example.org")).get("/dashboard/"))
    assert '<a class="skip-link" href="#main">' in page
    assert '<main id="main"' in page
    assert '<html lang="en">' in page
    assert 'hx-headers=\'{"X-CSRFToken": "' in page
    assert re.search(r'<form action="/accounts/logout/" method="post">', page)
    assert 'href="/accounts/settings/"' in page
    assert re.search(r'<option value="en"[^>]*selected', page)
    assert all(f'<option value="{code}"' in page for code, _name in settings.LANGUAGES)


# --- audit log ---------------------------------------------------------------------------------


def test_audit_page_is_for_operators_only(make_user, make_org):
    make_org()
    operator = signed_in(make_user(staff_role=StaffRole.OPERATOR))
    response = operator.get("/audit/")
    assert response.status_code == 200
    assert "organisation.create" in text(response)

    member = signed_in(make_user())
    response = member.get("/audit/")
    assert response.status_code == 403
    assert "You may not open this page" in text(response)
    assert signed_in(make_user(staff_role=StaffRole.ADVISOR)).get("/audit/").status_code == 403


def test_audit_filters_work_with_and_without_htmx(make_user, make_org):
    owner = make_user("owner@example.org")
    organisation = make_org(owner=owner)
    services.organisation_update(actor=owner, organisation=organisation, data={"city": "Wiltz"})
    operator = signed_in(make_user(staff_role=StaffRole.OPERATOR))

    page = text(operator.get("/audit/", {"action": "organisation.update"}))
    assert "organisation.update" in page
    assert "organisation.create" not in page
    assert "Wiltz" in page
    assert "<html" in page

    fragment = operator.get("/audit/", {"actor": "owner@", "action": "organisation."}, **HTMX)
    assert "<html" not in text(fragment)
    assert "organisation.create" in text(fragment)
    assert "user.create" not in text(fragment)
    assert "HX-Request" in fragment["Vary"]

    page = text(operator.get("/audit/", {"object_type": "accounts.apitoken"}))
    assert "No events match these filters." in page


def test_audit_update_changes_are_readable(make_user, make_org):
    owner = make_user()
    organisation = make_org(owner=owner, city="Remich")
    services.organisation_update(actor=owner, organisation=organisation, data={"city": "Wiltz"})
    page = text(signed_in(make_user(staff_role=StaffRole.ADMINISTRATOR)).get("/audit/"))
    assert "<dt>city</dt><dd>Remich → Wiltz</dd>" in page
    # A creation lists values; a two-sector list is not mistaken for a change.
    assert "<dt>sectors</dt><dd>crafts</dd>" in page


def test_audit_date_filter_and_bad_dates(make_user):
    operator = signed_in(make_user(staff_role=StaffRole.OPERATOR))
    today = timezone.localdate()
    page = text(operator.get("/audit/", {"since": today.isoformat(), "until": today.isoformat()}))
    assert "user.create" in page
    tomorrow = (today + timedelta(days=1)).isoformat()
    page = text(operator.get("/audit/", {"since": tomorrow}))
    assert "No events match these filters." in page
    response = operator.get("/audit/", {"since": "yesterday-ish"})
    assert response.status_code == 200
    assert "Some filters are not valid and were ignored." in text(response)
    assert 'id="id_since_error"' in text(response)


@pytest.mark.parametrize(
    ("field", "value"),
    [("since", "0001-01-01"), ("until", "9999-12-31"), ("until", "0001-01-01")],
)
def test_audit_dates_at_the_ends_of_the_calendar_are_a_form_error(make_user, field, value):
    operator = signed_in(make_user(staff_role=StaffRole.OPERATOR))
    response = operator.get("/audit/", {field: value})
    assert response.status_code == 200
    assert f'id="id_{field}_error"' in text(response)
    assert "Enter a date between 1900-01-01 and 9998-12-31." in text(response)


@pytest.mark.parametrize("field", ["action", "object_type", "actor"])
def test_audit_filters_with_a_nul_character_are_a_form_error(make_user, field):
    operator = signed_in(make_user(staff_role=StaffRole.OPERATOR))
    response = operator.get("/audit/", {field: "x\x00y"})
    assert response.status_code == 200
    assert f'id="id_{field}_error"' in text(response)


def test_audit_pagination_keeps_the_filters(make_user):
    actor = make_user()
    for n in range(55):
        services.terms_accept(user=actor, version=f"v{n}")
    operator = signed_in(make_user(staff_role=StaffRole.OPERATOR))
    total = AuditEvent.objects.filter(action__startswith="terms.").count()
    assert total > 50
    page = text(operator.get("/audit/", {"action": "terms."}))
    assert f"{total} events" in page
    assert "Page 1 of 2" in page
    assert page.count("<code>terms.accept</code>") == 50
    assert 'href="?action=terms.&amp;page=2"' in page
    page = text(operator.get("/audit/", {"action": "terms.", "page": "2"}))
    assert page.count("<code>terms.accept</code>") == total - 50


# --- language, errors, no external resources ---------------------------------------------------


def test_language_switch_sets_the_cookie():
    client = Client()
    response = client.post("/i18n/setlang/", {"language": "de", "next": "/"})
    assert response.status_code == 302
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "de"
    page = text(client.get("/"))
    assert '<html lang="de">' in page
    assert re.search(r'<option value="de"[^>]*selected', page)


def test_unknown_page_uses_the_portal_404():
    response = Client().get("/no/such/page/")
    assert response.status_code == 404
    assert "We cannot find this page" in text(response)


def test_the_stylesheet_and_script_are_found():
    assert finders.find("aifactory/app.css")
    assert finders.find("aifactory/app.js")


def test_500_page_renders_without_a_request():
    html = render_to_string("500.html")
    assert "Something went wrong on our side" in html
    assert "/static/aifactory/app.css" in html


def test_no_page_loads_anything_from_another_host(make_user, make_org):
    operator = make_user(staff_role=StaffRole.OPERATOR)
    organisation = make_org(owner=operator)
    anonymous = Client()
    pages = [
        (anonymous, "/"),
        (anonymous, "/accounts/login/"),
        (anonymous, "/accounts/signup/"),
        (anonymous, "/accounts/terms/"),
        (anonymous, "/accounts/password-reset/"),
        (signed_in(operator), "/dashboard/"),
        (signed_in(operator), "/organisations/"),
        (signed_in(operator), "/organisations/new/"),
        (signed_in(operator), f"/organisations/{organisation.pk}/members/"),
        (signed_in(operator), "/accounts/settings/"),
        (signed_in(operator), "/accounts/tokens/"),
        (signed_in(operator), "/audit/"),
    ]
    for client, path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        html = text(response)
        assert not re.search(r"\bcdn[.\w-]*\.", html.lower()), path  # a CDN host name
        for tag, name, value in links_of(html):
            assert not re.match(r"(https?:)?//", value), (path, tag, name, value)
        assert re.search(r'<script src="/static/django_htmx/htmx-2\.min\.js"', html), path
