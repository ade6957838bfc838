"""Usage charts: horizontal bars as inline SVG, drawn on the server.

As with the readiness chart (advisor/readiness_chart.py): no chart library and no script, so the
chart prints, works without JavaScript and passes any content security policy. It carries a
<title> and a <desc> for screen readers, and the page shows the same numbers in a table. Every text
is escaped here.
"""

from decimal import Decimal
from xml.sax.saxutils import escape, quoteattr

WIDTH = 640
ROW = 22
TOP = 8
LABEL_WIDTH = 150
VALUE_WIDTH = 90
BAR_SPACE = WIDTH - LABEL_WIDTH - VALUE_WIDTH - 16
MAX_LABEL = 22  # characters; longer labels are cut with an ellipsis (the table has them whole)


def _short(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def _number(value) -> str:
    value = Decimal(str(value or 0))
    return f"{value:,.2f}"


def bars_svg(rows: list[tuple[str, object]], *, title: str, desc: str, id_prefix: str) -> str:
    """Bars for ``rows`` = [(label, value)], each bar's length in proportion to the largest
    value. The values are also in ``data-value`` attributes, so tests can read them."""
    count = max(1, len(rows))
    height = TOP * 2 + ROW * count
    top = max((Decimal(str(v or 0)) for _label, v in rows), default=Decimal(0))
    title_id, desc_id = f"{id_prefix}-title", f"{id_prefix}-desc"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="usage-chart" role="img" '
        f'viewBox="0 0 {WIDTH} {height}" width="100%" preserveAspectRatio="xMinYMin meet" '
        f'aria-labelledby="{title_id} {desc_id}" id={quoteattr(id_prefix)}>',
        f'<title id="{title_id}">{escape(title)}</title>',
        f'<desc id="{desc_id}">{escape(desc)}</desc>',
        "<style>"
        ".usage-chart text{font:13px system-ui,sans-serif;fill:#17203a}"
        ".usage-chart .bar{fill:#2450d3}"
        ".usage-chart .track{fill:#eef1f8}"
        ".usage-chart .value{font-weight:600}"
        "</style>",
    ]
    for n, (label, value) in enumerate(rows):
        amount = Decimal(str(value or 0))
        y = TOP + n * ROW
        length = float(amount / top * BAR_SPACE) if top > 0 else 0.0
        parts.append(
            f'<g class="row" data-label={quoteattr(str(label))} data-value="{amount}">'
            f'<text x="{LABEL_WIDTH - 8}" y="{y + 15}" text-anchor="end">'
            f"{escape(_short(str(label)))}</text>"
            f'<rect class="track" x="{LABEL_WIDTH}" y="{y + 3}" width="{BAR_SPACE}" '
            f'height="{ROW - 6}" rx="3"/>'
            f'<rect class="bar" x="{LABEL_WIDTH}" y="{y + 3}" width="{length:.1f}" '
            f'height="{ROW - 6}" rx="3"><title>{escape(f"{label}: {_number(amount)}")}</title>'
            "</rect>"
            f'<text class="value" x="{LABEL_WIDTH + BAR_SPACE + 8}" y="{y + 15}">'
            f"{escape(_number(amount))}</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)
