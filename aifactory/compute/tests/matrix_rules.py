"""Authorization rules of the compute app's URLs (collected by core/tests/test_authorization.py):
the API's in matrix_api.py, the portal pages' in matrix_pages.py (when the pages exist), the
operators' cluster pages' in matrix_cluster_pages.py."""

import importlib
import importlib.util

from . import matrix_api

PARTS = [matrix_api]
for _name in ("matrix_pages", "matrix_cluster_pages"):
    if importlib.util.find_spec(f"{__package__}.{_name}"):
        PARTS.append(importlib.import_module(f"{__package__}.{_name}"))

RULES: dict = {}
for _part in PARTS:
    RULES.update(_part.RULES)


def setup(world):
    for part in PARTS:
        if hasattr(part, "setup"):
            part.setup(world)
