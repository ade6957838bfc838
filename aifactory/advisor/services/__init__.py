"""Every change of state of the advisor app: support cases and readiness assessments."""

from .cases import *  # noqa: F403
from .readiness import *  # noqa: F403
