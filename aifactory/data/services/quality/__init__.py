"""Quality: the metadata score of a dataset and the data quality checks of its versions.

Reasons and check results keep their ``message`` as fixed English text (marked for translation,
pages translate it when shown) and their figures in separate fields, so a stored result reads
well in every language.
"""

from .checks import (
    CHECK_KINDS,
    CHECK_LABELS,
    checks_validate,
    dataset_checks_set,
    quality_score,
    version_check_quality,
)
from .metadata import metadata_assess
from .schema import DECLARED_TYPES, declared_schema_validate

__all__ = [
    "CHECK_KINDS",
    "CHECK_LABELS",
    "DECLARED_TYPES",
    "checks_validate",
    "dataset_checks_set",
    "declared_schema_validate",
    "metadata_assess",
    "quality_score",
    "version_check_quality",
]
