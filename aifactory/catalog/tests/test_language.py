"""The cheap language guess used for titles and descriptions given as plain strings."""

import pytest

from aifactory.core.language import guess_language

SAMPLES = [
    ("de", "Wir helfen Handwerksbetrieben bei der Planung und beim Einkauf mit KI."),
    ("de", "Digitale Buchhaltung für Handwerker"),
    ("de", "Straßenbau: Schäden auf Fotos erkennen"),
    ("fr", "Nous aidons les PME à automatiser leur comptabilité avec une IA souveraine."),
    ("fr", "Formation IA pour les artisans"),
    ("en", "We help small businesses automate their bookkeeping with sovereign AI."),
    ("en", "Predictive maintenance for bakeries"),
    ("lb", "Mir hëllefen de klenge Betriber fir hir Buchhaltung mat KI ze automatiséieren."),
    ("lb", "Eng Léisung fir Bäckereien, déi manner ewechgeheien wëllen."),
]


@pytest.mark.parametrize(("expected", "text"), SAMPLES)
def test_guess(expected, text):
    assert guess_language(text) == expected


@pytest.mark.parametrize("text", ["", "Chatbot", "12345", "ChatGPT API GPU"])
def test_nothing_to_go_by_gives_the_default(text):
    assert guess_language(text) == "en"
    assert guess_language(text, default="fr") == "fr"
