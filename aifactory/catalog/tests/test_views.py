"""The catalogue's pages, driven with Django's test client as a browser would: browse and
search with facets, an offering's page, the front door, the providers' pages and moderation."""

import html
import json
import re

import pytest
from django.test import Client

from aifactory.catalog import services
from aifactory.catalog.matching import match
from aifactory.catalog.models import Offering

from .conftest import draft_data

HTMX = {"HTTP_HX_REQUEST": "true"}
SCRIPT = "<script>alert(1)</script>"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def text(response) -> str:
    return response.content.decode()


def publish(provider, operator, **changes):
    """An offering of the provider's organisation, submitted and approved through the services."""
    offering = services.offering_create(
        actor=provider["manager"], data=draft_data(provider["org"], **changes)
    )
    services.offering_submit(actor=provider["manager"], offering=offering)
    return services.offering_approve(actor=operator, offering=offering)


def jsonld(page: str) -> dict:
    found = re.findall(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)
    assert len(found) == 1, found
    return json.loads(found[0])


@pytest.fixture
def catalogue(provider, operator):
    """Three published offerings in three languages, and one draft."""
    return {
        "bakery": publish(
            provider,
            operator,
            external_id="sol-bakery",
            type="solution",
            title={"fr": "Prévision des ventes pour boulangeries"},
            description={
                "fr": "Prévoit les ventes de pain du lendemain à partir des données de caisse, "
                "pour cuire juste ce qu'il faut et jeter moins."
            },
            sectors=["crafts", "retail"],
            stages=["build"],
            languages=["fr", "lb"],
            deployment=["eu-saas"],
        ),
        "course": publish(
            provider,
            operator,
            external_id="course-ml-finance",
            type="course",
            title={"en": "Machine learning for fund administrators"},
            description={"en": "Two days on anomaly detection in fund accounting."},
            sectors=["finance"],
            stages=["upskill"],
            languages=["en"],
        ),
        "grant": publish(
            provider,
            operator,
            external_id="fund-startup-seed",
            type="funding",
            title={"de": "Startkapital für KI-Start-ups"},
            description={
                "de": "Zuschuss für junge KI-Start-ups: Rechenzeit auf dem Supercomputer und "
                "Beratung, bis zu 50 000 Euro."
            },
            sectors=["finance", "research"],
            stages=["fund"],
            languages=["de", "en"],
            for_kinds=["startup"],
        ),
        "draft": services.offering_create(
            actor=provider["manager"],
            data=draft_data(
                provider["org"], external_id="sol-secret-draft", title={"en": "Secret draft"}
            ),
        ),
    }


@pytest.fixture
def searchable(catalogue):
    """The catalogue with its embeddings computed, as the worker would."""
    services.catalog_index_pending()
    return catalogue


# --- browse and facets -------------------------------------------------------------------------


def test_browse_lists_published_offerings_with_badges_and_counts(catalogue):
    page = text(Client().get("/catalog/"))
    assert "Prévision des ventes pour boulangeries" in page
    assert "Machine learning for fund administrators" in page
    assert "Secret draft" not in page
    assert "3 published offerings" in page
    # Badges: the type, and the languages the offering works in.
    assert '<span class="badge badge-accent">Course</span>' in page
    assert '<span class="tag">Luxembourgish</span>' in page
    # A title in another language than the page's says so.
    assert 'lang="fr">Prévision des ventes pour boulangeries</a>' in page
    # Counts next to every facet value.
    assert re.search(r'id="count-type-solution"[^>]*>1<', page)
    assert re.search(r'id="count-sector-finance"[^>]*>2<', page)
    assert re.search(r'id="count-stage-fund"[^>]*>1<', page)


def test_facets_filter_and_counts_follow_the_other_facets(catalogue):
    client = Client()
    page = text(client.get("/catalog/?type=course"))
    assert "Machine learning for fund administrators" in page
    assert "boulangeries" not in page and "Startkapital" not in page
    assert "1 published offering" in page
    # The type counts ignore the type facet itself (what ticking another type would add)…
    assert re.search(r'id="count-type-solution"[^>]*>1<', page)
    # …while the other facets count only courses.
    assert re.search(r'id="count-sector-finance"[^>]*>1<', page)
    assert re.search(r'id="count-sector-crafts"[^>]*>0<', page)

    # Several values of one facet: any of them; several facets: all of them.
    page = text(client.get("/catalog/?type=course&type=funding"))
    assert "Machine learning" in page and "Startkapital" in page and "boulangeries" not in page
    page = text(client.get("/catalog/?type=course&type=funding&sector=research"))
    assert "Startkapital" in page and "Machine learning" not in page
    page = text(client.get("/catalog/?deployment=eu-saas"))
    assert "boulangeries" in page and "Machine learning" not in page
    # A language counts when the offering works in it or is written in it.
    page = text(client.get("/catalog/?language=lb"))
    assert "boulangeries" in page and "Startkapital" not in page
    page = text(client.get("/catalog/?language=de"))
    assert "Startkapital" in page and "boulangeries" not in page
    page = text(client.get("/catalog/?type=model"))
    assert "Nothing matches these filters." in page


def test_htmx_facet_change_answers_the_results_with_counts_out_of_band(catalogue):
    response = Client().get("/catalog/?stage=upskill", **HTMX)
    page = text(response)
    assert "<html" not in page
    assert "Machine learning for fund administrators" in page and "boulangeries" not in page
    assert re.search(r'id="count-sector-crafts" hx-swap-oob="true">0<', page)
    assert "HX-Request" in response["Vary"]


def test_an_unknown_facet_value_is_reported_and_ignored(catalogue):
    page = text(Client().get("/catalog/?type=spaceship&sector=crafts"))
    assert "Some filters are not valid and were ignored." in page
    assert "boulangeries" in page


def test_search_ranks_with_the_matchmaking_and_shows_why(searchable):
    need = "Wir sind eine Bäckerei und werfen jeden Abend Brot weg."
    expected = match(need, limit=50)
    assert expected.matches, "the matchmaking found nothing to compare with"
    top = expected.matches[0]
    page = text(Client().get("/catalog/", {"q": need}))
    assert 'aria-label="Why it matched"' in page
    assert "best first" in page
    for reason in top.reasons:
        assert html.escape(reason.message) in page
    assert page.index(html.escape(top.offering.display_title)) < page.index("</main>")
    assert "Secret draft" not in page


def test_search_with_facets_passes_them_to_the_matchmaking(searchable):
    page = text(Client().get("/catalog/", {"q": "Brot Bäckerei Kasse", "type": "course"}))
    assert "boulangeries" not in page


def test_search_text_too_long_is_a_clear_error(catalogue):
    page = text(Client().get("/catalog/", {"q": "x" * 20_000}))
    assert "Search text:" in page and "at most 5000 characters" in page
    assert "3 published offerings" in page  # the catalogue is still listed


# --- an offering's page ------------------------------------------------------------------------


def test_detail_shows_every_field_and_says_which_language_it_is_written_in(catalogue):
    page = text(Client().get("/catalog/sol-bakery/"))
    assert '<h1 lang="fr">Prévision des ventes pour boulangeries</h1>' in page
    assert "Written in French; there is no text in your language." in page
    for shown in ["Solution", "Holzwierk S.à r.l.", "EU SaaS", "Crafts, Retail", "Build"]:
        assert html.escape(shown) in page, shown
    assert "French, Luxembourgish" in page
    assert 'href="/catalog/sol-bakery/edit/"' not in page  # visitors get no buttons


def test_detail_in_the_visitors_language_when_there_is_one(catalogue):
    page = text(Client(headers={"accept-language": "de"}).get("/catalog/fund-startup-seed/"))
    assert "<h1>Startkapital für KI-Start-ups</h1>" in page
    assert "no text in your language" not in page


@pytest.mark.parametrize(
    ("kind", "schema_type"),
    [
        ("solution", "SoftwareApplication"),
        ("service", "Service"),
        ("provider", "Organization"),
        ("course", "Course"),
        ("funding", "MonetaryGrant"),
        ("dataset", "Dataset"),
        ("model", "CreativeWork"),
    ],
)
def test_detail_carries_schema_org_json_ld_of_its_type(provider, operator, kind, schema_type):
    publish(
        provider,
        operator,
        external_id=f"x-{kind}",
        type=kind,
        title={"en": f"A {kind} & more"},
        price="from 49 € a month",
        tags=["ai"],
        languages=["en", "lb"],
    )
    data = jsonld(text(Client().get(f"/catalog/x-{kind}/")))
    assert data["@context"] == "https://schema.org"
    assert data["@type"] == schema_type
    assert data["name"] == f"A {kind} & more"
    assert data["identifier"] == f"x-{kind}"
    assert data["@id"] == f"http://testserver/catalog/x-{kind}/"


def test_non_published_offerings_are_hidden_from_others(catalogue, provider, make_user):
    url = "/catalog/sol-secret-draft/"
    assert Client().get(url).status_code == 404
    assert signed_in(make_user()).get(url).status_code == 404
    assert signed_in(provider["member"]).get(url).status_code == 200
    assert signed_in(make_user(staff_role="advisor")).get(url).status_code == 200
    page = text(signed_in(provider["member"]).get(url))
    assert "This listing is a draft; it is not public." in page
    assert "Edit" not in page  # a plain member reads, managers edit
    assert "Secret draft" not in text(Client().get("/catalog/"))


# --- HTML in listing text ----------------------------------------------------------------------


def test_html_and_script_in_listing_text_are_escaped_on_every_page(provider, operator, make_user):
    manager = signed_in(provider["manager"])
    response = manager.post(
        "/catalog/new/",
        {
            "organisation": str(provider["org"].pk),
            "external_id": "sol-xss",
            "type": "solution",
            "title_en": SCRIPT,
            "description_en": f"Bakery forecasting {SCRIPT} <img src=x onerror=alert(2)>",
            "provider_name": f"Evil {SCRIPT}",
            "tags": f"{SCRIPT}, bakery",
            "price": SCRIPT,
            "ai_act_note": SCRIPT,
            "stages": ["build"],
        },
    )
    assert response.status_code == 302, text(response)
    offering = Offering.objects.get(external_id="sol-xss")
    assert offering.title == {"en": SCRIPT}
    operator_client = signed_in(operator)
    pages = {
        "detail (draft)": manager.get("/catalog/sol-xss/"),
        "edit": manager.get("/catalog/sol-xss/edit/"),
        "my listings": manager.get("/catalog/mine/"),
    }
    manager.post("/catalog/sol-xss/submit/")
    pages["review queue"] = operator_client.get("/catalog/review/")
    pages["detail (in review)"] = operator_client.get("/catalog/sol-xss/")
    operator_client.post("/catalog/sol-xss/approve/")
    services.catalog_index_pending()
    public = Client()
    pages |= {
        "detail": public.get("/catalog/sol-xss/"),
        "browse": public.get("/catalog/"),
        "search": public.get("/catalog/", {"q": "Bakery forecasting"}),
        "search htmx": public.get("/catalog/", {"q": "Bakery forecasting"}, **HTMX),
        "match": public.post("/match/", {"text": f"Bakery forecasting {SCRIPT}"}),
    }
    for name, response in pages.items():
        assert response.status_code == 200, name
        page = text(response)
        assert SCRIPT not in page, name
        assert "<img src=x" not in page, name
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text(pages["detail"])
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text(pages["search"])
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text(pages["match"])
    # In the JSON-LD the markup is written as JSON escapes, and still reads back the same.
    detail = text(pages["detail"])
    assert "\\u003Cscript\\u003Ealert(1)\\u003C/script\\u003E" in detail
    assert jsonld(detail)["name"] == SCRIPT


# --- providers ---------------------------------------------------------------------------------


def offering_post(org, **changes):
    data = {
        "organisation": str(org.pk),
        "type": "service",
        "title_de": "KI-Werkstatt für Handwerksbetriebe",
        "description_de": "Ein Tag mit Ihrem Team: wo KI im Betrieb hilft.",
        "title_lb": "KI-Atelier fir Handwierksbetriber",
        "description_lb": "En Dag mat Ärem Team.",
        "stages": ["discover", "assess"],
        "sectors": ["crafts"],
        "tags": "workshop, crafts",
        "languages": "de, LB",
        "url": "https://holzwierk.example.lu/ki",
        "price": "800 € per day",
        "deployment": ["on-premises"],
        "ai_act_risk": "minimal",
        "for_kinds": ["sme"],
        "for_sizes": ["micro", "small"],
        "eligible_countries": "lu, be",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_a_provider_lists_an_offering_and_submits_it(provider):
    client = signed_in(provider["manager"])
    form = text(client.get("/catalog/new/"))
    assert "Holzwierk S.à r.l." in form and "Title in Luxembourgish" in form
    response = client.post("/catalog/new/", offering_post(provider["org"]))
    offering = Offering.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/catalog/{offering.external_id}/"
    assert offering.external_id.startswith("service-")
    assert offering.status == "draft"
    assert offering.title == {
        "de": "KI-Werkstatt für Handwerksbetriebe",
        "lb": "KI-Atelier fir Handwierksbetriber",
    }
    assert offering.provider_organisation == provider["org"]
    assert offering.provider_name == "Holzwierk S.à r.l."
    assert offering.tags == ["workshop", "crafts"]
    assert offering.languages == ["de", "lb"]
    assert offering.eligible_countries == ["BE", "LU"]
    assert offering.for_sizes == ["micro", "small"]
    page = text(client.get(response["Location"]))
    assert "Saved as a draft." in page and "Submit for review" in page

    # The page speaks English; the listing has none, so its first language (German) is shown.
    mine = text(client.get("/catalog/mine/"))
    assert 'lang="de"><strong>KI-Werkstatt für Handwerksbetriebe</strong>' in mine
    client.post(f"/catalog/{offering.external_id}/submit/", {"next": "/catalog/mine/"})
    offering.refresh_from_db()
    assert offering.status == "in_review"


def test_provider_form_errors_are_shown_next_to_their_fields_and_nothing_is_saved(provider):
    client = signed_in(provider["manager"])
    cases = [
        (
            {"title_de": "", "title_lb": "", "description_de": "", "description_lb": ""},
            "Give a title in at least one language.",
        ),
        ({"title_de": "x" * 201}, "Ensure this value has at most 200 characters"),
        ({"url": "ftp://example.lu"}, "Enter a web address starting with http:// or https://."),
        ({"stages": []}, "Give at least one journey stage."),
        ({"languages": "de, xx"}, "Not an ISO 639-1 language code: “xx”."),
        ({"eligible_countries": "LU, ZZ"}, "Not an ISO 3166 country code: “ZZ”."),
        ({"external_id": "bad id!"}, "Use 1 to 100 letters"),
    ]
    for changes, message in cases:
        response = client.post("/catalog/new/", offering_post(provider["org"], **changes))
        assert response.status_code == 200, changes
        page = text(response)
        assert html.escape(message) in page or message in page, (changes, page[-3000:])
        assert 'aria-invalid="true"' in page
    assert not Offering.objects.exists()


def test_only_managers_and_operators_list_offerings(provider, make_user, make_org):
    assert signed_in(provider["member"]).get("/catalog/new/").status_code == 403
    assert signed_in(make_user()).get("/catalog/new/").status_code == 403
    page = text(signed_in(make_user()).get("/catalog/mine/"))
    assert "Managers and owners of an organisation list its offerings here." in page
    # A manager cannot list for someone else's organisation by changing the form.
    stranger_org = make_org(legal_name="Other S.A.")
    response = signed_in(provider["manager"]).post(
        "/catalog/new/", offering_post(provider["org"], organisation=str(stranger_org.pk))
    )
    assert response.status_code == 200
    assert "Select a valid choice." in text(response)
    assert not Offering.objects.exists()


def test_a_provider_cannot_edit_another_providers_listing(catalogue, provider, make_user, make_org):
    other = make_user()
    make_org(owner=other, legal_name="Concurrent S.à r.l.")
    client = signed_in(other)
    published = catalogue["bakery"]
    assert client.get("/catalog/sol-bakery/edit/").status_code == 403
    response = client.post(
        "/catalog/sol-bakery/edit/", offering_post(provider["org"], title_en="Mine now")
    )
    assert response.status_code == 403
    for action in ("submit", "archive", "restore", "approve", "reject"):
        assert client.post(f"/catalog/sol-bakery/{action}/").status_code == 403, action
    # Drafts of others are not even there.
    assert client.get("/catalog/sol-secret-draft/edit/").status_code == 404
    assert client.post("/catalog/sol-secret-draft/submit/").status_code == 404
    published.refresh_from_db()
    assert published.status == "published"
    assert published.title == {"fr": "Prévision des ventes pour boulangeries"}
    # The page shows them no buttons either.
    page = text(client.get("/catalog/sol-bakery/"))
    assert "/catalog/sol-bakery/edit/" not in page and "Archive" not in page


def test_editing_a_published_listing_sends_it_back_to_review(catalogue, provider):
    client = signed_in(provider["owner"])
    form = text(client.get("/catalog/course-ml-finance/edit/"))
    assert 'value="Machine learning for fund administrators"' in form
    assert "A change sends the listing back to review" in form
    data = offering_post(
        provider["org"],
        organisation=None,
        type="course",
        title_de=None,
        description_de=None,
        title_lb=None,
        description_lb=None,
        title_en="Machine learning for fund administrators",
        description_en="Three days now.",
        stages=["upskill"],
    )
    response = client.post("/catalog/course-ml-finance/edit/", data, follow=True)
    assert "The listing is back in review" in text(response)
    offering = Offering.objects.get(external_id="course-ml-finance")
    assert offering.status == "in_review"
    assert offering.description == {"en": "Three days now."}


def test_archive_and_restore(catalogue, provider):
    client = signed_in(provider["manager"])
    assert re.search(r'id="count-type-solution"[^>]*>1<', text(Client().get("/catalog/")))
    client.post("/catalog/sol-bakery/archive/", {"next": "/catalog/mine/"})
    assert Offering.objects.get(external_id="sol-bakery").status == "archived"
    assert Client().get("/catalog/sol-bakery/").status_code == 404
    # The counts follow at once.
    assert re.search(r'id="count-type-solution"[^>]*>0<', text(Client().get("/catalog/")))
    # Twice is refused with the reason, not an error page.
    response = client.post("/catalog/sol-bakery/archive/", follow=True)
    assert "This offering is archived already." in text(response)
    page = text(client.get("/catalog/sol-bakery/edit/"))
    assert "An archived listing cannot be edited; restore it as a draft first." in page
    assert 'name="title_en"' not in page
    client.post("/catalog/sol-bakery/restore/", {"next": "/catalog/sol-bakery/edit/"})
    assert Offering.objects.get(external_id="sol-bakery").status == "draft"
    assert 'name="title_fr"' in text(client.get("/catalog/sol-bakery/edit/"))


def test_an_external_redirect_after_an_action_is_ignored(catalogue, provider):
    client = signed_in(provider["manager"])
    response = client.post("/catalog/sol-bakery/archive/", {"next": "https://evil.example/"})
    assert response["Location"] == "/catalog/sol-bakery/"


# --- moderation --------------------------------------------------------------------------------


def test_operators_approve_and_reject_from_the_review_queue(provider, operator, draft):
    services.offering_submit(actor=provider["manager"], offering=draft)
    second = services.offering_create(
        actor=provider["manager"],
        data=draft_data(provider["org"], external_id="sol-second", title={"en": "Second one"}),
    )
    services.offering_submit(actor=provider["manager"], offering=second)
    client = signed_in(operator)
    page = text(client.get("/catalog/review/"))
    assert "Angebotsassistent für Schreinereien" in page and "Second one" in page
    assert "Reason for the provider" in page

    response = client.post(
        f"/catalog/{draft.external_id}/approve/", {"next": "/catalog/review/"}, follow=True
    )
    assert "is published." in text(response)
    assert Offering.objects.get(pk=draft.pk).status == "published"
    assert "Angebotsassistent" in text(Client().get("/catalog/"))

    # A rejection needs a reason.
    response = client.post(
        "/catalog/sol-second/reject/", {"reason": "  ", "next": "/catalog/review/"}, follow=True
    )
    assert "Give the reason, so the provider can act on it." in text(response)
    assert Offering.objects.get(pk=second.pk).status == "in_review"
    client.post("/catalog/sol-second/reject/", {"reason": "Say what it costs <b>please</b>."})
    second.refresh_from_db()
    assert second.status == "draft" and second.review_note == "Say what it costs <b>please</b>."
    assert "Nothing waits for review." in text(client.get("/catalog/review/"))

    # The provider sees why, escaped, on the listing and in their list.
    provider_client = signed_in(provider["manager"])
    for url in ("/catalog/sol-second/", "/catalog/mine/"):
        page = text(provider_client.get(url))
        assert "Say what it costs &lt;b&gt;please&lt;/b&gt;." in page, url


def test_only_operators_moderate(provider, draft, make_user):
    services.offering_submit(actor=provider["manager"], offering=draft)
    for person in (provider["manager"], make_user(staff_role="advisor")):
        client = signed_in(person)
        assert client.get("/catalog/review/").status_code == 403
        assert client.post(f"/catalog/{draft.external_id}/approve/").status_code == 403
    assert Offering.objects.get(pk=draft.pk).status == "in_review"
    page = text(signed_in(provider["manager"]).get(f"/catalog/{draft.external_id}/"))
    assert "Approve and publish" not in page


# --- the front door ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"text": ""}, "text", "Describe your business and your need."),
        ({"text": "   \n "}, "text", "Describe your business and your need."),
        ({"text": "x" * 20_000}, "text", "Please keep it to 5000 characters; this text has 20000."),
        ({"text": "A bakery.", "sector": "bakeries"}, "sector", "Unknown sector “bakeries”."),
    ],
)
def test_match_page_errors_are_shown_next_to_the_field(db, data, field, message):
    response = Client().post("/match/", data)
    assert response.status_code == 200
    page = text(response)
    assert "Please correct the fields marked below." in page
    assert message in page
    assert re.search(rf'name="{field}"[^>]*aria-invalid="true"', page)
    assert "What we found for you" not in page


def test_match_page_groups_results_and_leads_to_the_factory(searchable):
    need = "Wir sind eine Bäckerei und werfen jeden Abend zu viel Brot weg."
    page = text(Client().post("/match/", {"text": need, "sector": "crafts"}))
    assert "What we found for you" in page
    assert "read as German" in page
    assert "Ready-made solutions" in page
    assert "Prévision des ventes pour boulangeries" in page
    assert 'aria-label="Why it matched"' in page
    assert "For your sector: Crafts." in page
    # "Ask the factory about this" carries the need to the advisor app's case form, through
    # the session (a 5,000-character need does not fit in an address).
    form = re.search(r'<form method="get" action="([^"]+)">(.*?)</form>', page, re.S)
    assert form and form.group(1) == "/cases/new/"
    assert 'name="from" value="match"' in form.group(2)
    assert "Ask the factory about this" in form.group(2)
    # A link with the need in the query runs it too; HTMX gets only the area.
    fragment = text(Client().post("/match/", {"text": need}, **HTMX))
    assert "<html" not in fragment and "What we found for you" in fragment
    assert "What we found for you" in text(Client().get("/match/", {"text": need}))


def test_match_uses_the_organisations_profile_and_marks_what_it_cannot_have(
    searchable, make_user, make_org
):
    person = make_user()
    commune = make_org(owner=person, kind="public", legal_name="Gemeng Beispill")
    client = signed_in(person)
    assert "Gemeng Beispill" in text(client.get("/match/"))
    need = "Zuschuss und Rechenzeit auf dem Supercomputer für unsere KI."
    response = client.post("/match/", {"text": need, "organisation": str(commune.pk)})
    page = text(response)
    assert "for Gemeng Beispill" in page
    result = match(need, organisation=commune, limit=20)
    refused = [m for m in result.matches if not m.eligible]
    assert refused, "the start-up grant should be marked for a public body"
    assert "Not eligible" in page
    assert 'class="offering-card not-eligible"' in page
    for m in refused:
        for reason in m.reasons:
            if reason.kind == "not_eligible":
                assert html.escape(reason.message) in page
    # The organisation goes with the need to the case form.
    case_form = client.get("/cases/new/?from=match").content.decode()
    assert f'value="{commune.pk}" selected' in case_form


def test_match_refuses_an_organisation_that_is_not_ones_own(db, make_user, make_org):
    person = make_user()
    make_org(owner=person)
    foreign = make_org()
    response = signed_in(person).post("/match/", {"text": "A bakery.", "organisation": foreign.pk})
    assert "Select a valid choice." in text(response)
    assert "What we found for you" not in text(response)
    # Anonymous visitors have no organisation to choose.
    assert 'name="organisation"' not in text(Client().get("/match/"))


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("de", ["Katalog durchsuchen", "Branche", "Handwerk", "veröffentlichte Angebote"]),
        ("fr", ["Rechercher dans le catalogue", "Secteur", "Artisanat", "offres publiées"]),
        ("lb", ["Am Katalog sichen", "Secteur", "Handwierk", "publizéiert Offeren"]),
    ],
)
def test_the_pages_speak_the_visitors_language(catalogue, lang, words):
    client = Client(headers={"accept-language": lang})
    page = text(client.get("/catalog/"))
    for word in words:
        assert word in page, (lang, word)
    assert "Search the catalogue" not in page and "published offerings" not in page
    page = text(client.post("/match/", {"text": ""}))
    assert "Describe your business and your need<" not in page


def test_a_need_in_another_script_is_answered_with_a_notice(searchable):
    page = text(Client().post("/match/", {"text": "Мы пекарня и выбрасываем хлеб каждый вечер."}))
    assert "a language other than English, German, French or Luxembourgish" in page
    assert "read as" not in page
