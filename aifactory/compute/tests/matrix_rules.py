"""Authorization rules of the compute app's URLs (collected by core/tests/test_authorization.py):
the API's in matrix_api.py, the portal pages' in matrix_pages.py (when the pages exist)."""

import importlib
import importlib.util

from . import matrix_api

PARTS = [matrix_api]
if importlib.util.find_spec(f"{__package__}.matrix_pages"):
    PARTS.append(importlib.import_module(f"{__package__}.matrix_pages"))

RULES: dict = {}
for _part in PARTS:
    RULES.update(_part.RULES)


def setup(world):
    for part in PARTS:
        if hasattr(part, "setup"):
            part.setup(world)
