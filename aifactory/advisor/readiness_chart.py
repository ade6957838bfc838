"""The readiness chart: a radar of the dimensions' levels as inline SVG, drawn on the server.

No chart library and no script: the SVG is plain markup, so it prints, works without JavaScript,
is safe under any content security policy and can be handed out by the API as it is. It carries a
<title> and a <desc> for screen readers; pages show the same numbers in a table next to it.
"""

import math
import textwrap
from xml.sax.saxutils import escape, quoteattr

MAX_LEVEL = 5
WIDTH, HEIGHT = 640, 460
CX, CY = 320, 228
RADIUS = 130  # the ring of level 5
LABEL_RADIUS = 152
LINE = 16
WRAP = 22  # characters per label line; longer dimension names wrap onto further lines


def _point(index: int, count: int, level: float, radius: float = RADIUS) -> tuple[float, float]:
    """Axis 0 points up; the others follow clockwise."""
    angle = -math.pi / 2 + 2 * math.pi * index / count
    r = radius * level / MAX_LEVEL
    return CX + r * math.cos(angle), CY + r * math.sin(angle)


def _points(values: list[float], count: int) -> str:
    return " ".join("{:.1f},{:.1f}".format(*_point(i, count, v)) for i, v in enumerate(values))


def _label(index: int, count: int, lines: list[str], value: str) -> str:
    angle = -math.pi / 2 + 2 * math.pi * index / count
    cos, sin = math.cos(angle), math.sin(angle)
    x, y = CX + LABEL_RADIUS * cos, CY + LABEL_RADIUS * sin
    anchor = "middle" if abs(cos) < 0.3 else ("start" if cos > 0 else "end")
    rows = [*lines, value]
    height = LINE * (len(rows) - 1)
    if sin < -0.3:  # above the chart: the block ends at the point
        first = y - height
    elif sin > 0.3:  # below: the block starts under the point
        first = y + LINE - 2
    else:
        first = y - height / 2 + 5
    spans = []
    for n, text in enumerate(rows):
        cls = ' class="value"' if n == len(rows) - 1 else ""
        spans.append(f'<tspan x="{x:.1f}" y="{first + n * LINE:.1f}"{cls}>{escape(text)}</tspan>')
    return f'<text text-anchor="{anchor}">{"".join(spans)}</text>'


def radar_svg(
    axes: list[tuple[str, str, int]],
    *,
    title: str,
    desc: str,
    compare: list[int] | None = None,
    compare_label: str = "",
    id_prefix: str = "readiness-chart",
) -> str:
    """A radar of ``axes`` = [(key, label, level 1–5)], optionally over an earlier set of levels.

    ``id_prefix`` keeps the ids of <title> and <desc> unique when a page shows several charts.
    The levels are also in ``data-`` attributes, so the chart can be checked without reading
    pixels.
    """
    count = len(axes)
    if count < 3:
        raise ValueError("a radar needs at least three axes")
    levels = [int(level) for _key, _label, level in axes]
    title_id, desc_id = f"{id_prefix}-title", f"{id_prefix}-desc"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="readiness-chart" role="img" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'aria-labelledby="{title_id} {desc_id}" data-levels="{",".join(map(str, levels))}">',
        f'<title id="{title_id}">{escape(title)}</title>',
        f'<desc id="{desc_id}">{escape(desc)}</desc>',
        "<style>"
        ".readiness-chart text{font:14px system-ui,sans-serif;fill:#17203a}"
        ".readiness-chart .value{font-weight:700;fill:#1a3da8}"
        ".readiness-chart .ring{fill:none;stroke:#c9d1e3;stroke-width:1}"
        ".readiness-chart .axis{stroke:#c9d1e3;stroke-width:1}"
        ".readiness-chart .tick{font-size:10px;fill:#5b6480}"
        ".readiness-chart .levels{fill:rgba(36,80,211,.22);stroke:#2450d3;stroke-width:2.5}"
        ".readiness-chart .point{fill:#2450d3}"
        ".readiness-chart .previous{fill:none;stroke:#5b6480;stroke-width:1.5;"
        "stroke-dasharray:5 4}"
        "</style>",
        '<g class="rings">',
    ]
    for level in range(1, MAX_LEVEL + 1):
        parts.append(
            f'<polygon class="ring" data-level="{level}" points="{_points([level] * count, count)}"/>'
        )
    parts.append('</g><g class="axes">')
    for i, (key, _label_text, _level) in enumerate(axes):
        x, y = _point(i, count, MAX_LEVEL)
        parts.append(
            f'<line class="axis" data-key={quoteattr(key)} x1="{CX}" y1="{CY}" '
            f'x2="{x:.1f}" y2="{y:.1f}"/>'
        )
    parts.append("</g>")
    for level in range(1, MAX_LEVEL + 1):  # the scale, along the first axis
        x, y = _point(0, count, level)
        parts.append(f'<text class="tick" x="{x + 4:.1f}" y="{y + 4:.1f}">{level}</text>')
    if compare and len(compare) == count:
        parts.append(
            f'<polygon class="previous" data-levels="{",".join(map(str, compare))}" '
            f'points="{_points([float(v) for v in compare], count)}">'
            f"<title>{escape(compare_label)}</title></polygon>"
        )
    parts.append(
        f'<polygon class="levels" data-levels="{",".join(map(str, levels))}" '
        f'points="{_points([float(v) for v in levels], count)}"/>'
    )
    parts.append('<g class="points">')
    for i, (key, label_text, level) in enumerate(axes):
        x, y = _point(i, count, level)
        parts.append(
            f'<circle class="point" data-key={quoteattr(key)} data-level="{level}" '
            f'cx="{x:.1f}" cy="{y:.1f}" r="4.5"><title>{escape(f"{label_text}: {level}")}</title>'
            "</circle>"
        )
    parts.append('</g><g class="labels">')
    for i, (_key, label_text, level) in enumerate(axes):
        lines = textwrap.wrap(label_text, WRAP, break_long_words=False, break_on_hyphens=False) or [
            label_text
        ]
        parts.append(_label(i, count, lines, f"{level} / {MAX_LEVEL}"))
    parts.append("</g></svg>")
    return "".join(parts)


def assessment_chart(assessment, language: str, *, previous=None, id_prefix: str = "") -> str:
    """The chart of a completed assessment in one language, over the previous one when given."""
    from django.utils import formats, translation
    from django.utils.translation import gettext as _

    from . import readiness

    q = readiness.questionnaire(assessment.version)
    result = readiness.present_result(q, assessment.result, language)
    with translation.override(language):
        date = formats.date_format(assessment.completed_at, "DATE_FORMAT")
        title = _("AI readiness of %(organisation)s on %(date)s") % {
            "organisation": assessment.organisation.legal_name,
            "date": date,
        }
        levels = "; ".join(f"{row['name']}: {row['level']}" for row in result["dimensions"])
        desc = _("Level per dimension, from 1 to 5. Overall level %(level)s. %(levels)s.") % {
            "level": result["overall"]["level"],
            "levels": levels,
        }
        compare, compare_label = None, ""
        if previous is not None:
            compare = [row["level"] for row in previous.result["dimensions"]]
            compare_label = _("Previous assessment, %(date)s") % {
                "date": formats.date_format(previous.completed_at, "DATE_FORMAT")
            }
            desc += " " + _("The dashed line shows the previous assessment.")
    return radar_svg(
        [(row["key"], row["name"], row["level"]) for row in result["dimensions"]],
        title=title,
        desc=desc,
        compare=compare,
        compare_label=compare_label,
        id_prefix=id_prefix or f"readiness-chart-{assessment.pk}",
    )
