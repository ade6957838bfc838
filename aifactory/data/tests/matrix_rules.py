"""Authorization rules of the data app's URLs (collected by core/tests/test_authorization.py), by
topic: datasets and versions, their quality page, access requests and reading, harvesting and the DCAT-AP export."""

from . import matrix_datasets, matrix_harvest, matrix_quality, matrix_requests

PARTS = [matrix_datasets, matrix_quality, matrix_requests, matrix_harvest]

RULES: dict = {}
for _part in PARTS:
    RULES.update(_part.RULES)


def setup(world):
    for part in PARTS:
        if hasattr(part, "setup"):
            part.setup(world)
