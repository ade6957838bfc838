"""Matchmaking over the real demo catalogue with the real default embedder."""

import json

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from aifactory.catalog import services
from aifactory.catalog.index import get_index
from aifactory.catalog.matching import MAX_TEXT, Profile, analyse, match, need_language, to_german
from aifactory.catalog.models import Offering


def ids(result):
    return [m.offering.external_id for m in result.matches]


def test_words_are_folded_and_cut(db):
    assert analyse("Bäckerei BÄCKEREI backerei") == ["backer"] * 3
    assert analyse("der die das und Rechnungen") == ["rechnu"]


def test_luxembourgish_is_rendered_in_german_for_the_encoder():
    assert to_german("Mir sinn eng Schräinerei") == "wir sind eine Schreinerei"
    assert to_german("Offall ofgeholl") == "Abfall abgeholt"


def test_a_german_need_finds_a_french_listing(demo_catalogue):
    result = match(
        "Wir sind eine Bäckerei mit drei Filialen. Jeden Abend werfen wir Brot weg, weil wir "
        "nicht wissen, wie viel wir für den nächsten Tag backen sollen."
    )
    assert result.language == "de"
    top = ids(result)[:5]
    assert "sol-bakery-demand-forecast" in top  # written in French only
    forecast = next(
        m for m in result.matches if m.offering.external_id == "sol-bakery-demand-forecast"
    )
    assert "fr" in forecast.offering.title and "de" not in forecast.offering.title
    kinds = {r.kind for r in forecast.reasons}
    assert "language" in kinds and "text" in kinds
    assert any("French" in r.message for r in forecast.reasons)


def test_a_luxembourgish_need_finds_its_answer(demo_catalogue):
    result = match(
        "Ech schaffen op enger Gemeng. D'Leit ruffen de ganzen Dag un, fir ze froen, wéini den "
        "Offall ofgeholl gëtt. Mir hätte gär eppes, wat déi Froen op Lëtzebuergesch beäntwert."
    )
    assert result.language == "lb"
    assert "sol-commune-chatbot" in ids(result)[:3]


def test_results_are_grouped_by_next_step(demo_catalogue):
    result = match(
        "We are a start-up of four and want to train a language model. We need GPU hours on "
        "the supercomputer and funding, and a course for the team.",
        limit=30,
    )
    groups = {group.key: [m.offering.type for m in ms] for group, ms in result.grouped()}
    assert {"access", "fund"} <= set(groups)
    assert set(groups["fund"]) == {"funding"}
    assert all(
        "access mode" in [t.lower() for t in m.offering.tags]
        for g, ms in result.grouped()
        if g.key == "access"
        for m in ms
    )


def test_eligibility_marks_funding_the_organisation_cannot_have(demo_catalogue, make_org):
    # fund-startup-ai-seed is for start-ups only; a public body asking is told so.
    text = "Seed funding and GPU hours for a young AI start-up that builds language models."
    open_result = match(text, limit=20)
    assert "fund-startup-ai-seed" in ids(open_result)
    assert all(m.eligible for m in open_result.matches)

    commune = make_org(kind="public", legal_name="Gemeng Beispill")
    result = match(text, organisation=commune, limit=20)
    seed = next(m for m in result.matches if m.offering.external_id == "fund-startup-ai-seed")
    assert not seed.eligible
    assert any(r.kind == "not_eligible" and "Start-up" in r.message for r in seed.reasons)
    # not-eligible ones come after every eligible one
    flags = [m.eligible for m in result.matches]
    assert flags == sorted(flags, reverse=True)
    assert result.profile.kind == "public"

    startup = match(text, profile=Profile(kind="startup", size="micro", country="LU"), limit=20)
    seed = next(m for m in startup.matches if m.offering.external_id == "fund-startup-ai-seed")
    assert seed.eligible
    assert any(r.kind == "eligibility" for r in seed.reasons)


def test_sector_adds_a_reason(demo_catalogue):
    result = match("Kameras prüfen Kratzer auf Metallteilen", sector="manufacturing")
    assert any(r.kind == "sector" for m in result.matches for r in m.reasons)


def test_facets_narrow_the_results(demo_catalogue):
    result = match("Kurs über künstliche Intelligenz", facets={"type": ["course"]}, limit=20)
    assert result.matches and {m.offering.type for m in result.matches} == {"course"}


@pytest.mark.parametrize("text", ["", "   ", None, "x" * (MAX_TEXT + 1), "y" * 20_000])
def test_bad_text_is_refused_with_the_field(db, text):
    with pytest.raises(ValidationError) as caught:
        match(text)
    assert "text" in caught.value.message_dict


def test_unknown_sector_and_filter_are_refused(db):
    with pytest.raises(ValidationError) as caught:
        match("bakery", sector="bakeries")
    assert "sector" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        match("bakery", facets={"colour": ["red"]})
    assert "facets" in caught.value.message_dict


def test_another_script_gets_a_notice_and_still_answers(demo_catalogue):
    result = match("Мы пекарня и выбрасываем слишком много хлеба каждый вечер")
    assert result.language == "other"
    assert result.notices
    assert need_language("Hello, we are a bakery") == "en"


def test_gibberish_matches_nothing_and_says_so(demo_catalogue):
    result = match("qzxv wplk trrrb mnnq")
    assert result.matches == [] and result.notices


def test_the_index_follows_changes_without_a_restart(demo_catalogue, make_user, make_org):
    text = "Pflanzenkläranlage mit Schilf für Winzergenossenschaften"
    before = ids(match(text))
    operator = make_user(staff_role="operator")
    owner = make_user()
    org = make_org(owner=owner)
    offering = services.offering_create(
        actor=owner,
        data={
            "external_id": "sol-reed-bed",
            "type": "solution",
            "title": {"fr": "Station d'épuration par filtres plantés de roseaux pour caves"},
            "description": {"fr": "Traite les eaux de lavage des caves coopératives viticoles."},
            "stages": ["build"],
            "provider_organisation_id": org.pk,
        },
    )
    services.offering_submit(actor=owner, offering=offering)
    services.offering_approve(actor=operator, offering=offering)
    assert "sol-reed-bed" not in before
    # No vector yet (the worker would compute it): found by its words only if at all.
    services.offering_embed_refresh(offering_id=offering.pk)
    assert "sol-reed-bed" in ids(match(text))[:3]

    services.offering_archive(actor=owner, offering=Offering.objects.get(pk=offering.pk))
    assert "sol-reed-bed" not in ids(match(text))


def test_a_change_made_elsewhere_is_patched_in_not_rebuilt(demo_catalogue):
    """Another process (the worker, another web worker) changes a row: the index applies it."""
    from django.utils import timezone

    index = get_index()
    built, size = index.built_at, index.size()
    Offering.objects.filter(external_id="sol-bakery-demand-forecast").update(
        status="archived", updated_at=timezone.now()
    )
    index = get_index()
    assert index.built_at == built
    assert index.size() == size - 1


# --- API -------------------------------------------------------------------------------------


def test_api_match(demo_catalogue, client):
    response = client.post(
        "/api/v1/match",
        {"text": "Logiciel de devis pour menuiserie", "limit": 5},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["language"] == "fr"
    assert 0 < len(body["results"]) <= 5
    first = body["results"][0]
    assert set(first) >= {"id", "type", "title", "score", "reasons", "eligible", "group"}
    assert all(isinstance(r, str) for r in first["reasons"])
    assert {i for g in body["groups"] for i in g["ids"]} == {r["id"] for r in body["results"]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": ""}, "text"),
        ({"text": "z" * 20_000}, "text"),
        ({"text": "bakery", "sector": "bakeries"}, "sector"),
        ({"text": "bakery", "limit": 0}, "limit"),
    ],
)
def test_api_match_bad_input(db, client, body, field):
    response = client.post("/api/v1/match", body, content_type="application/json")
    assert response.status_code == 422, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert field in json.dumps(response.json())


def test_api_match_with_an_organisation_only_for_its_people(
    demo_catalogue, api, make_org, make_user
):
    owner, stranger = make_user(), make_user()
    org = make_org(owner=owner, kind="public")
    body = {"text": "Seed funding for a young AI start-up", "organisation": str(org.pk)}
    response = api(owner).post("/match", body)
    assert response.status_code == 200
    assert response.json()["profile"]["kind"] == "public"
    assert api(stranger).post("/match", body).status_code == 403


# --- CLI -------------------------------------------------------------------------------------


def test_cli_match_text_and_json(demo_catalogue, capsys):
    call_command("match", "Logiciel de devis pour menuiserie", "--limit", "3")
    out = capsys.readouterr().out
    assert "Ready-made solutions" in out
    call_command("match", "Logiciel de devis pour menuiserie", "--json")
    body = json.loads(capsys.readouterr().out)
    assert body["results"][0]["id"]


def test_cli_batch(demo_catalogue, tmp_path, capsys):
    queries = tmp_path / "needs.jsonl"
    queries.write_text(
        '{"id": "q1", "text": "Logiciel de devis pour menuiserie"}\n\n'
        '{"id": "q2", "text": "Wir brauchen GPU-Stunden für ein Sprachmodell"}\n'
    )
    call_command("match", "--queries", str(queries), "--json", "--limit", "4")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["id"] for line in lines] == ["q1", "q2"]
    for line in lines:
        assert 0 < len(line["results"]) <= 4
        assert set(line["results"][0]) == {"id", "type", "title", "score", "reasons"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"id": "q1", "text": "ok"}\nnot json\n', "line 2: not valid JSON"),
        ('{"text": "no id"}\n', 'line 1: "id" is missing'),
        ('{"id": "q1", "text": ""}\n', "line 1: text"),
        ('["a list"]\n', "line 1: expected an object"),
    ],
)
def test_cli_batch_bad_lines_stop_before_ranking(db, tmp_path, capsys, content, message):
    queries = tmp_path / "bad.jsonl"
    queries.write_text(content)
    with pytest.raises(CommandError, match=message):
        call_command("match", "--queries", str(queries), "--json")
    assert capsys.readouterr().out == ""


def test_many_changes_rebuild_the_index(demo_catalogue):
    from django.utils import timezone

    index = get_index()
    built, size = index.built_at, index.size()
    some = list(Offering.objects.order_by("external_id").values_list("pk", flat=True)[:60])
    Offering.objects.filter(pk__in=some).update(status="archived", updated_at=timezone.now())
    index = get_index()
    assert index.built_at > built
    assert index.size() == size - 60


def test_a_new_text_replaces_the_old_words(demo_catalogue, make_user):
    operator = make_user(staff_role="operator")
    offering = Offering.objects.get(external_id="sol-commune-chatbot")
    get_index()
    services.offering_update(
        actor=operator,
        offering=offering,
        data={"title": {"en": "Zyxwort assistant"}, "description": {"en": "Answers zyxwort."}},
    )
    assert "sol-commune-chatbot" in ids(match("zyxwort"))
    services.offering_update(
        actor=operator,
        offering=Offering.objects.get(pk=offering.pk),
        data={"title": {"en": "Qwvbn assistant"}, "description": {"en": "Answers qwvbn."}},
    )
    assert "sol-commune-chatbot" not in ids(match("zyxwort"))


def test_api_match_with_a_profile_instead_of_an_organisation(demo_catalogue, client):
    body = {"text": "Seed funding for a young AI start-up", "kind": "public", "country": "lu"}
    response = client.post("/api/v1/match", body, content_type="application/json")
    assert response.status_code == 200, response.content
    result = response.json()
    assert result["profile"] == {"sector": "", "kind": "public", "size": "", "country": "LU"}
    seed = next(r for r in result["results"] if r["id"] == "fund-startup-ai-seed")
    assert seed["eligible"] is False
    bad = client.post(
        "/api/v1/match", {"text": "x y", "kind": "giant"}, content_type="application/json"
    )
    assert bad.status_code == 422 and "kind" in bad.json()["errors"]


def test_cli_profile_flags(demo_catalogue, capsys):
    call_command(
        "match", "Seed funding for a young AI start-up", "--kind", "public", "--limit", "20"
    )
    assert "[not eligible]" in capsys.readouterr().out
    with pytest.raises(CommandError, match="size"):
        call_command("match", "bakery", "--size", "huge")
