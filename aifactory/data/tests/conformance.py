"""Third-party conformance data of the tests (DCAT-AP 3.0.1 shapes and examples, csv-spectrum): the
shared folder beside the checkout, or AIFACTORY_CONFORMANCE_DIR. Test data, so not a setting of the
product."""

import os
from pathlib import Path

import pytest

CONFORMANCE_DIR = Path(
    os.environ.get(
        "AIFACTORY_CONFORMANCE_DIR",
        Path(__file__).resolve().parents[4] / "shared" / "conformance",
    )
).resolve()


def conformance_folder(*parts: str, must_have: str = "") -> Path:
    """The folder, or a loud skip when it is missing (a failure under CI, which has it)."""
    folder = CONFORMANCE_DIR.joinpath(*parts)
    if not (folder / must_have).exists() or not folder.is_dir():
        message = f"the conformance data is not in {folder} (AIFACTORY_CONFORMANCE_DIR)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(f"!!! SKIPPED: {message}")
    return folder
