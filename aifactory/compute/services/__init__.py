"""Every change of state of the compute app, by topic."""

from .clusters import *  # noqa: F403
from .jobs import *  # noqa: F403
from .provisioning import *  # noqa: F403
from .sync import *  # noqa: F403
from .usage import *  # noqa: F403
