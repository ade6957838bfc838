"""Every change of state of the data app, by topic."""

from .datasets import *  # noqa: F403
from .harvest import *  # noqa: F403
from .listing import *  # noqa: F403
from .profiling import *  # noqa: F403
from .quality import *  # noqa: F403
from .reading import *  # noqa: F403
from .requests import *  # noqa: F403
from .sweep import *  # noqa: F403
from .versions import *  # noqa: F403
