"""Demo data contributed by the apps, so `aifactory seed-demo` loads all of it while core imports none.

Each app registers a loader in ``AppConfig.ready``; a loader is idempotent and returns one line saying
what it did. The people and organisations (accounts) are loaded first by the command itself.
"""

from collections.abc import Callable

_loaders: dict[str, tuple[int, Callable[[], str]]] = {}


def register(name: str, loader: Callable[[], str], *, order: int = 100) -> None:
    _loaders[name] = (order, loader)


def run_loaders() -> list[str]:
    return [loader() for _order, loader in sorted(_loaders.values(), key=lambda item: item[0])]
