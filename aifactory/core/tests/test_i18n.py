"""Translations: complete, in step with the source, compiled, and actually used by the pages.

The .po files under aifactory/locale are the source; `make install` compiles the .mo files and
`make messages` re-extracts the strings (needs GNU gettext).
"""

import os
import re
import shutil
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.core import mail
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import translation

from aifactory.accounts import services

LOCALE_DIR = Path(settings.BASE_DIR) / "locale"
LANGS = ["de", "fr", "lb"]
PLURAL_FORMS = {
    "de": "nplurals=2; plural=(n != 1);",
    "fr": "nplurals=2; plural=(n > 1);",
    "lb": "nplurals=2; plural=(n != 1);",
}
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / "django.po"


def catalogue(lang: str) -> polib.POFile:
    path = po_path(lang)
    assert path.exists(), f"{path} is missing; run `make messages`"
    return polib.pofile(str(path))


def key(entry) -> tuple[str, str]:
    return (entry.msgctxt or "", entry.msgid)


# --- (a) every entry translated, nothing fuzzy, placeholders kept ------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_catalogue_is_complete(lang):
    po = catalogue(lang)
    assert po.metadata.get("Language") == lang
    assert po.metadata.get("Plural-Forms") == PLURAL_FORMS[lang]
    untranslated = [e.msgid for e in po.untranslated_entries()]
    fuzzy = [e.msgid for e in po.fuzzy_entries()]
    assert not untranslated, f"{lang}: untranslated: {untranslated}"
    assert not fuzzy, f"{lang}: fuzzy (Django ignores these): {fuzzy}"
    wrong = []
    for entry in po:
        if entry.msgid_plural:
            pairs = [
                (entry.msgid, entry.msgstr_plural[0]),
                (entry.msgid_plural, entry.msgstr_plural[1]),
            ]
        else:
            pairs = [(entry.msgid, entry.msgstr)]
        for source, translated in pairs:
            if sorted(PLACEHOLDER.findall(source)) != sorted(PLACEHOLDER.findall(translated)):
                wrong.append(source)
            # A straight double quote would end the HTML attribute some strings are used in.
            if translated.count('"') != source.count('"'):
                wrong.append(source)
    assert not wrong, f"{lang}: placeholders or quotes differ from the source: {wrong}"


# --- (b) the catalogues hold every string marked in code and templates -------------------------


def test_catalogues_are_up_to_date(tmp_path, monkeypatch):
    """Extract the strings afresh from a copy of the tree and compare with the committed files."""
    if shutil.which("xgettext") is None or shutil.which("msgmerge") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("GNU gettext (xgettext, msgmerge) is needed to check the catalogues")
        pytest.skip(
            "SKIPPED LOUDLY: GNU gettext is not installed, so the catalogues were not checked"
        )
    copy = tmp_path / "aifactory"
    shutil.copytree(
        settings.BASE_DIR,
        copy,
        # The same files `make messages` leaves out: tests (with the test OIDC provider) and
        # the catalogues themselves.
        ignore=shutil.ignore_patterns("__pycache__", "tests", "locale", "static", "*.mo", "*.po"),
    )
    (copy / "locale").mkdir()
    monkeypatch.chdir(copy)
    with override_settings(LOCALE_PATHS=[]):
        call_command("makemessages", locale=["de"], no_obsolete=True, no_location=True, verbosity=0)
    fresh = polib.pofile(str(copy / "locale" / "de" / "LC_MESSAGES" / "django.po"))
    fresh_keys = {key(e) for e in fresh if e.msgid}
    assert len(fresh_keys) > 100, "the extraction found suspiciously few strings"
    for lang in LANGS:
        committed = {key(e) for e in catalogue(lang)}
        missing = sorted(fresh_keys - committed)
        assert not missing, (
            f"{lang}: strings marked in the source but not in the catalogue; run `make messages` "
            f"and translate them: {missing}"
        )
        # The test OIDC provider's page is no part of the product.
        assert ("", "Test identity provider") not in committed


# --- (d) the compiled catalogues match the .po files -------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_compiled_catalogue_matches_po(lang):
    mo_path = po_path(lang).with_suffix(".mo")
    assert mo_path.exists(), f"{mo_path} is missing; run `make install` to compile the catalogues"
    compiled = {
        key(e): (dict(e.msgstr_plural) if e.msgid_plural else e.msgstr)
        for e in polib.mofile(str(mo_path))
    }
    stale = []
    for entry in catalogue(lang).translated_entries():
        expected = (
            {int(k): v for k, v in entry.msgstr_plural.items()}
            if entry.msgid_plural
            else entry.msgstr
        )
        got = compiled.get(key(entry))
        if isinstance(got, dict):
            got = {int(k): v for k, v in got.items()}
        if got != expected:
            stale.append(entry.msgid)
    assert not stale, f"{mo_path} is older than the .po; run `make install`: {stale[:5]}"


def test_gettext_uses_the_catalogues():
    with translation.override("de"):
        assert translation.gettext("Sign in") == "Anmelden"
        assert translation.pgettext("token", "revoked") == "widerrufen"
        assert translation.ngettext("%(counter)s event", "%(counter)s events", 2) == (
            "%(counter)s Ereignisse"
        )
    with translation.override("fr"):
        assert translation.gettext("Sign in") == "Se connecter"
        # Invitations are feminine, tokens masculine: the context keeps them apart.
        assert translation.gettext("revoked") == "révoquée"
        assert translation.pgettext("token", "revoked") == "révoqué"
        # French uses the singular for 0 and 1.
        assert translation.ngettext("%(counter)s event", "%(counter)s events", 0) == (
            "%(counter)s événement"
        )
    with translation.override("lb"):
        assert translation.gettext("Sign in") == "Umellen"
        assert translation.gettext("Settings") == "Astellungen"


# --- (c) the pages speak the chosen language ---------------------------------------------------

# page -> (an English string that must be gone, the string expected in de, fr, lb)
PAGES = {
    "home": ("Create an account", ["Konto erstellen", "Créer un compte", "E Kont uleeën"]),
    "login": ("Forgot your password?", ["Passwort vergessen?", "Mot de passe oublié", "Umellen"]),
    "signup": (
        "Create your account",
        ["Erstellen Sie Ihr Konto", "Créez votre compte", "Leet Äre Kont un"],
    ),
    "dashboard": (
        "My organisations",
        ["Meine Organisationen", "Mes organisations", "Meng Organisatiounen"],
    ),
    "organisation_list": ("My role", ["Meine Rolle", "Mon rôle", "Meng Roll"]),
    "organisation_form": (
        "Address and website",
        ["Adresse und Website", "Adresse et site web", "Adress a Websäit"],
    ),
    "members": ("Invite someone", ["Jemanden einladen", "Inviter quelqu’un", "Een invitéieren"]),
    "settings": (
        "Preferred language",
        ["Bevorzugte Sprache", "Langue préférée", "Bevorzugt Sprooch"],
    ),
}
# Shown on every page, signed in or not.
FOOTER = (
    "Terms of use",
    ["Nutzungsbedingungen", "Conditions d’utilisation", "Notzungsbedingungen"],
)
# Shown on the organisation form: a sector, an organisation kind, and a field label from forms.py.
FORM_WORDS = {
    "de": ["Handwerk", "Forschungseinrichtung", "Mitarbeiterzahl"],
    "fr": ["Artisanat", "Organisme de recherche", "Effectif"],
    "lb": ["Handwierk", "Fuerschungsariichtung", "Unzuel Mataarbechter"],
}
# Role labels, as the members page shows the owner's own row.
OWNER = {"de": "Inhaber", "fr": "propriétaire", "lb": "Besëtzer"}


@pytest.fixture
def pages(make_user, make_org):
    owner = make_user()
    organisation = make_org(owner=owner)
    return owner, {
        "home": "/",
        "login": "/accounts/login/",
        "signup": "/accounts/signup/",
        "dashboard": "/dashboard/",
        "organisation_list": "/organisations/",
        "organisation_form": "/organisations/new/",
        "members": f"/organisations/{organisation.pk}/members/",
        "settings": "/accounts/settings/",
    }


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("page", list(PAGES))
def test_page_is_translated(pages, page, lang):
    owner, urls = pages
    client = Client()
    if page not in {"home", "login", "signup"}:
        client.force_login(owner)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = lang
    response = client.get(urls[page])
    assert response.status_code == 200
    html = response.content.decode()
    index = LANGS.index(lang)
    english, translated = PAGES[page]
    assert f'<html lang="{lang}">' in html
    assert translated[index] in html
    assert english not in html
    assert FOOTER[1][index] in html and FOOTER[0] not in html
    if page == "organisation_form":
        for word in FORM_WORDS[lang]:
            assert word in html
        for word in ["Crafts", "Research organisation", "Staff headcount"]:
            assert word not in html
    if page == "members":
        assert OWNER[lang] in html
    if client.session.get("_auth_user_id"):
        assert "Sign out" not in html


def test_accept_language_header_chooses_the_language(db):
    response = Client(headers={"accept-language": "fr-LU,fr;q=0.9,en;q=0.5"}).get("/")
    assert '<html lang="fr">' in response.content.decode()
    assert "Se connecter" in response.content.decode()


def test_language_switcher_sets_the_language(db):
    client = Client()
    response = client.post("/i18n/setlang/", {"language": "lb", "next": "/"}, follow=True)
    html = response.content.decode()
    assert '<html lang="lb">' in html
    assert "Umellen" in html and ">Sign in<" not in html


def test_invitation_mail_is_in_the_language_of_the_invited_person(
    make_user, make_org, django_capture_on_commit_callbacks
):
    invited = make_user()
    services.user_update_profile(
        user=invited, first_name="Léa", last_name="", preferred_language="fr"
    )
    organisation = make_org(legal_name="Menuiserie Example S.à r.l.")
    owner = organisation.memberships.get().user
    with django_capture_on_commit_callbacks(execute=True):
        services.invitation_create(
            actor=owner, organisation=organisation, email=invited.email, role="manager"
        )
    message = mail.outbox[-1]
    assert message.subject == (
        "Invitation à rejoindre Menuiserie Example S.à r.l. sur AI Factory Hub"
    )
    assert "en tant que gestionnaire" in message.body
