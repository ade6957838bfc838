"""Authorization rules of the quality page (merged in matrix_rules.py PARTS).

An internal draft dataset of organisation A: its members (member, manager, owner) edit the schema
and checks; operators see the dataset but may not edit it (403); the others do not see it (404);
anonymous visitors are sent to sign in."""

from aifactory.core.tests.matrix import LOGIN, Rule, by_role
from aifactory.data import services

EDITORS = ["member", "manager", "owner"]
PAGE = "/datasets/{w.quality_dataset.slug}/quality/"


def setup(world):
    world.quality_dataset = services.dataset_create(
        actor=world.users["owner"],
        organisation=world.org,
        data={"title": {"en": "Matrix quality"}, "access_rights": "internal"},
    )


RULES: dict[str, Rule] = {
    "data:dataset_quality_edit": Rule(
        "get",
        PAGE,
        by_role(404, **LOGIN, operator=403, administrator=403, **{r: 200 for r in EDITORS}),
    ),
}
