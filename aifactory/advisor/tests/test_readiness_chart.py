"""The radar chart: well-formed SVG, six axes, the levels where they belong, text escaped."""

import math
import xml.etree.ElementTree as ET

import pytest

from aifactory.advisor import readiness_chart
from aifactory.advisor.readiness_chart import CX, CY, RADIUS, radar_svg

SVG = "{http://www.w3.org/2000/svg}"
AXES = [
    ("strategy", "Strategy", 4),
    ("data", "Data", 1),
    ("skills", "Skills", 3),
    ("processes", "Processes", 2),
    ("technology", "Technology", 5),
    ("compliance", "Compliance & <AI Act>", 1),
]


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # raises on anything that is not well-formed XML


def radius_of(point: str) -> float:
    x, y = (float(v) for v in point.split(","))
    return math.hypot(x - CX, y - CY)


def test_the_chart_is_well_formed_with_six_axes_and_the_levels():
    root = parse(radar_svg(AXES, title="Readiness of “Backstuff”", desc="Levels 1 to 5."))
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "readiness-chart-title readiness-chart-desc"
    assert root.find(f"{SVG}title").text == "Readiness of “Backstuff”"
    assert root.find(f"{SVG}desc").text == "Levels 1 to 5."

    axes = root.findall(f".//{SVG}line[@class='axis']")
    assert [a.get("data-key") for a in axes] == [key for key, _label, _level in AXES]
    for axis in axes:  # every axis reaches the ring of level 5
        length = math.hypot(float(axis.get("x2")) - CX, float(axis.get("y2")) - CY)
        assert length == pytest.approx(RADIUS, abs=0.1)
    assert len(root.findall(f".//{SVG}polygon[@class='ring']")) == 5

    shape = root.find(f".//{SVG}polygon[@class='levels']")
    assert shape.get("data-levels") == "4,1,3,2,5,1"
    corners = shape.get("points").split()
    assert len(corners) == 6
    # Each corner sits at level/5 of the radius, on its own axis.
    for corner, (_key, _label, level) in zip(corners, AXES, strict=True):
        assert radius_of(corner) == pytest.approx(RADIUS * level / 5, abs=0.15)
    first_x, first_y = (float(v) for v in corners[0].split(","))
    assert first_x == pytest.approx(CX) and first_y < CY  # the first axis points up

    points = root.findall(f".//{SVG}circle[@class='point']")
    assert [(p.get("data-key"), p.get("data-level")) for p in points] == [
        (key, str(level)) for key, _label, level in AXES
    ]
    labels = ["".join(t.itertext()) for t in root.find(f".//{SVG}g[@class='labels']")]
    assert labels[1] == "Data1 / 5"


def test_text_is_escaped_and_long_names_wrap():
    svg = radar_svg(
        [*AXES[:5], ("compliance", "Compliance und KI-Verordnung <script>", 2)],
        title="<b>Bäckerei & Co</b>",
        desc="x",
        id_prefix="print-1",
    )
    assert "<script>" not in svg and "<b>" not in svg
    root = parse(svg)
    assert root.find(f"{SVG}title").text == "<b>Bäckerei & Co</b>"
    assert root.find(f"{SVG}title").get("id") == "print-1-title"
    last = root.find(f".//{SVG}g[@class='labels']")[-1]
    spans = [s.text for s in last]
    assert spans == ["Compliance und", "KI-Verordnung <script>", "2 / 5"]


def test_an_earlier_assessment_is_drawn_dashed_underneath():
    root = parse(
        radar_svg(AXES, title="t", desc="d", compare=[1, 1, 2, 2, 3, 1], compare_label="2025")
    )
    previous = root.find(f".//{SVG}polygon[@class='previous']")
    assert previous.get("data-levels") == "1,1,2,2,3,1"
    assert previous.find(f"{SVG}title").text == "2025"
    polygons = [p.get("class") for p in root.iter(f"{SVG}polygon")]
    assert polygons.index("previous") < polygons.index("levels")


def test_fewer_than_three_axes_is_no_radar():
    with pytest.raises(ValueError):
        readiness_chart.radar_svg(AXES[:2], title="t", desc="d")
