"""Every change of state of the access app, by topic."""

from .applications import *  # noqa: F403
from .decisions import *  # noqa: F403
from .modes import *  # noqa: F403
from .projects import *  # noqa: F403
from .reviews import *  # noqa: F403
