"""Forms of the readiness assessment: the questionnaire itself, built from its current version."""

from django import forms
from django.utils.translation import get_language_info
from django.utils.translation import gettext_lazy as _

from aifactory.core.forms import PortalForm

from . import readiness


def language_choices() -> list[tuple[str, str]]:
    """Each language in its own name, as the person reading it knows it."""
    return [
        (code, str(get_language_info(code)["name_local"]).capitalize())
        for code in readiness.LANGUAGES
    ]


class StartForm(PortalForm):
    language = forms.ChoiceField(label=_("Language of the questionnaire"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["language"].choices = language_choices()


class AssessmentForm(PortalForm):
    """One group of radio buttons per question, none required: a draft may be saved half done.

    Completion, which needs every answer, is decided by the service, which names what is missing.
    """

    def __init__(self, *args, questionnaire: readiness.Questionnaire, language: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.questionnaire = questionnaire
        self.language = language
        self.fields["language"] = forms.ChoiceField(
            label=_("Language of the questionnaire"), choices=language_choices(), required=False
        )
        for question in questionnaire.questions:
            self.fields[question.id] = forms.ChoiceField(
                label=question.label(language),
                choices=[(o.value, readiness.tr(o.text, language)) for o in question.options],
                widget=forms.RadioSelect,
                required=False,
            )

    def sections(self) -> list[dict]:
        """The questions by dimension, for the template."""
        return [
            {
                "key": d.key,
                "name": readiness.tr(d.name, self.language),
                "about": readiness.tr(d.about, self.language),
                "fields": [self[question.id] for question in d.questions],
            }
            for d in self.questionnaire.dimensions
        ]

    def answers(self) -> dict[str, str]:
        """The answers chosen on the page. Radio buttons cannot be unchecked, so a question
        missing here was not answered on this page and keeps what was saved before."""
        return {
            question.id: self.cleaned_data[question.id]
            for question in self.questionnaire.questions
            if self.cleaned_data.get(question.id)
        }
