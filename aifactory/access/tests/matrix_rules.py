"""Authorization rules of the access app's URLs (collected by core/tests/test_authorization.py);
each part of the app keeps its own in matrix_<part>.py."""

from . import (
    matrix_applications,
    matrix_modes,
    matrix_projects,
    matrix_reviews_api,
    matrix_reviews_pages,
)

PARTS = (
    matrix_modes,
    matrix_applications,
    matrix_projects,
    matrix_reviews_pages,
    matrix_reviews_api,
)
RULES: dict = {}
for _part in PARTS:
    RULES.update(_part.RULES)


def setup(world):
    for part in PARTS:
        part.setup(world)
