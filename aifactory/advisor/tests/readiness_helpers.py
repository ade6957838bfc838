"""Shared pieces of the readiness tests (imported by the test_readiness_*.py modules).

``answers_at`` builds answers that give each dimension the levels asked for, so a test states
the levels it expects and the helper finds the options; ``bakery`` is a small crafts business
with its owner and a member; ``staff_advisor``/``stranger`` are the people who may read, or not.
"""

import pytest

from aifactory.advisor import readiness
from aifactory.advisor.services import readiness as services

__all__ = ["answers_at", "bakery", "staff_advisor", "stranger", "completed"]


def answers_at(levels: dict[str, list[int] | int], default: int = 3) -> dict[str, str]:
    """{question id: option value} with, per dimension, the levels given (one per question, or
    one for all of them); dimensions not named get ``default``."""
    q = readiness.questionnaire()
    answers = {}
    for d in q.dimensions:
        wanted = levels.get(d.key, default)
        per_question = wanted if isinstance(wanted, list) else [wanted] * len(d.questions)
        assert len(per_question) == len(d.questions), f"{d.key} has {len(d.questions)} questions"
        for question, level in zip(d.questions, per_question, strict=True):
            option = next(o for o in question.options if o.level == level)
            answers[question.id] = option.value
    return answers


@pytest.fixture
def bakery(make_user, make_org, add_member):
    owner = make_user("owner@backstuff.test")
    org = make_org(
        owner=owner,
        legal_name="Bäckerei <Backstuff> S.à r.l.",
        sectors=["crafts", "retail"],
        staff_headcount=8,
    )
    member = make_user("member@backstuff.test")
    add_member(org, member, "member")
    return {"org": org, "owner": owner, "member": member}


@pytest.fixture
def staff_advisor(make_user):
    return make_user("advisor@factory.test", staff_role="advisor")


@pytest.fixture
def stranger(make_user, make_org):
    person = make_user("outsider@elsewhere.test")
    make_org(owner=person, legal_name="Somewhere Else S.A.")
    return person


@pytest.fixture
def completed(demo_catalogue, bakery):
    """A completed assessment of the bakery: data and compliance weakest, strategy strong."""
    assessment, _created = services.assessment_start(
        actor=bakery["owner"],
        organisation=bakery["org"],
        language="de",
        answers=answers_at({"data": 1, "compliance": [2, 1, 2, 1], "strategy": 5}),
    )
    return services.assessment_complete(actor=bakery["owner"], assessment=assessment)
