"""Dashboard panels contributed by the apps, so core shows them without importing any app.

Each app registers its panels in ``AppConfig.ready``; a panel's context function returns None to stay
hidden for this person.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Panel:
    name: str
    template: str
    context: Callable[[Any], dict | None]
    order: int = 100
    wide: bool = False


_panels: dict[str, Panel] = {}


def register(panel: Panel) -> None:
    _panels[panel.name] = panel


def panels_for(request) -> list[dict]:
    shown = []
    for panel in sorted(_panels.values(), key=lambda p: (p.order, p.name)):
        context = panel.context(request)
        if context is not None:
            shown.append({"template": panel.template, "context": context, "wide": panel.wide})
    return shown
