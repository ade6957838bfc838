"""Authorization rules of the readiness assessment's URLs (merged into matrix_rules.py).

Members of organisation A (any role) fill in its assessments; advisors, operators and
administrators read them; the outsider and the reviewer get 404 for an assessment (ids reveal
nothing) and 403 for the organisation's pages, as for its profile.

The assessments are made on first use (``w.readiness.draft`` in a path), because every World
runs every app's setup and completing an assessment asks the catalogue: only the rules that need
one pay for it.
"""

from functools import cached_property

from aifactory.advisor import readiness
from aifactory.advisor.models import Assessment, AssessmentStatus
from aifactory.advisor.services import readiness as services
from aifactory.core.tests.matrix import ANON_401, API, LOGIN, Rule, by_role

MEMBERS = ["member", "manager", "owner"]
READERS = [*MEMBERS, "advisor", "operator", "administrator"]
FILLING = frozenset(MEMBERS)
UNSEEN = {"outsider": 404, "reviewer": 404}
NOT_THEIRS = {"outsider": 403, "reviewer": 403}
READERS_NOT_FILLING = {"advisor": 403, "operator": 403, "administrator": 403}


def _all_answers(level_index: int = 0) -> dict[str, str]:
    q = readiness.questionnaire()
    return {question.id: question.options[level_index].value for question in q.questions}


class ReadinessWorld:
    """Organisation A's assessments, each made through the services when a rule first asks."""

    def __init__(self, world):
        self.world = world
        self.owner = world.users["owner"]

    @cached_property
    def draft(self) -> Assessment:
        assessment, _created = services.assessment_start(
            actor=self.owner,
            organisation=self.world.org,
            language="de",
            answers={"strategy_ideas": "heard"},
        )
        return assessment

    @cached_property
    def with_draft(self) -> str:
        """An empty string for a path: formatting it makes the draft, for rules on lists."""
        _made = self.draft
        return ""

    @cached_property
    def full(self) -> Assessment:
        """A draft with every question answered, ready to complete."""
        assessment, _created = services.assessment_start(
            actor=self.owner, organisation=self.world.org, answers=_all_answers(1)
        )
        return assessment

    @cached_property
    def completed(self) -> Assessment:
        assessment = self.full
        return services.assessment_complete(actor=self.owner, assessment=assessment)


def readiness_setup(world):
    world.readiness = ReadinessWorld(world)


def _started(w, role):
    return Assessment.objects.filter(organisation=w.org, created_by=w.users[role]).exists()


def _answered(w, role):
    return Assessment.objects.get(pk=w.readiness.draft.pk).answers.get("strategy_ideas") == "ideas"


def _completed(w, role):
    return Assessment.objects.get(pk=w.readiness.full.pk).status == AssessmentStatus.COMPLETED


PAGE = "/readiness/{w.readiness.%s.pk}/"
ASSESSMENTS = API + "/readiness/assessments"
ONE = ASSESSMENTS + "/{w.readiness.%s.pk}"
PAGE_READERS = {r: 200 for r in READERS}

READINESS_RULES: dict[str, Rule] = {
    # --- pages ----------------------------------------------------------------------------------
    "advisor:readiness_index": Rule(
        "get", "/readiness/{w.readiness.with_draft}", by_role(200, **LOGIN)
    ),
    "advisor:readiness_organisation": Rule(
        "get",
        "/readiness/organisations/{w.org.pk}/",
        by_role(403, **LOGIN, **PAGE_READERS),
    ),
    "advisor:readiness_start": Rule(
        "post",
        "/readiness/organisations/{w.org.pk}/start/",
        by_role(403, **LOGIN, **{r: 302 for r in MEMBERS}),
        body={"language": "fr"},
        effect=_started,
        done_by=FILLING,
    ),
    "advisor:readiness_detail": Rule("get", PAGE % "draft", by_role(404, **LOGIN, **PAGE_READERS)),
    "advisor:readiness_save": Rule(
        "post",
        PAGE % "draft" + "answers/",
        by_role(404, **LOGIN, **READERS_NOT_FILLING, **{r: 302 for r in MEMBERS}),
        body={"strategy_ideas": "ideas", "action": "save"},
        effect=_answered,
        done_by=FILLING,
    ),
    "advisor:readiness_print": Rule(
        "get", PAGE % "completed" + "print/", by_role(404, **LOGIN, **PAGE_READERS)
    ),
    "advisor:readiness_chart": Rule(
        "get", PAGE % "completed" + "chart.svg", by_role(404, **LOGIN, **PAGE_READERS)
    ),
    # --- API ------------------------------------------------------------------------------------
    "api:readiness_questionnaire": Rule(
        "get", API + "/readiness/questionnaire?lang=lb", by_role(200)
    ),
    "api:readiness_list": Rule(
        "get",
        ASSESSMENTS + "{w.readiness.with_draft}",
        by_role(200, **ANON_401),
        shows_org={
            "outsider": False,
            "reviewer": False,
            **{r: True for r in READERS},
        },
    ),
    "api:readiness_create": Rule(
        "post",
        ASSESSMENTS,
        by_role(403, **ANON_401, **{r: 201 for r in MEMBERS}),
        body=lambda w, role: {"organisation": str(w.org.pk), "language": "lb"},
        effect=_started,
        done_by=FILLING,
    ),
    "api:readiness_read": Rule("get", ONE % "draft", by_role(404, **ANON_401, **PAGE_READERS)),
    "api:readiness_update": Rule(
        "patch",
        ONE % "draft",
        by_role(404, **ANON_401, **READERS_NOT_FILLING, **{r: 200 for r in MEMBERS}),
        body={"answers": {"strategy_ideas": "ideas"}},
        effect=_answered,
        done_by=FILLING,
    ),
    "api:readiness_complete": Rule(
        "post",
        ONE % "full" + "/complete",
        by_role(404, **ANON_401, **READERS_NOT_FILLING, **{r: 200 for r in MEMBERS}),
        effect=_completed,
        done_by=FILLING,
    ),
    "api:readiness_chart_svg": Rule(
        "get", ONE % "completed" + "/chart.svg", by_role(404, **ANON_401, **PAGE_READERS)
    ),
}
