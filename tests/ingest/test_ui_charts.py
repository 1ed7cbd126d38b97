"""The dashboard's server-drawn charts (ui/charts.py): words for numbers, and SVG from them."""

import re
from datetime import UTC, datetime
from xml.etree import ElementTree

import pytest

from versioner.ingest.ui import charts
from versioner.ingest.ui.charts import Series

SVG = "{http://www.w3.org/2000/svg}"


def _parsed(markup: str) -> ElementTree.Element:
    """The chart as XML: it must be well formed."""
    return ElementTree.fromstring(markup)


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (None, "—"),
        (0, "0s"),
        (45.4, "45s"),
        (59.6, "1m"),
        (12 * 60, "12m"),
        (3600, "1h"),
        (3 * 3600 + 20 * 60, "3h 20m"),
        (86400 - 10, "1d"),
        (2 * 86400 + 4 * 3600, "2d 4h"),
        (30 * 86400, "30d"),
    ],
)
def test_durations_read_as_a_person_says_them(seconds: float | None, said: str) -> None:
    assert charts.duration(seconds) == said


def test_rates_and_counts_drop_needless_decimals() -> None:
    assert charts.percent(None) == "—"
    assert charts.percent(0) == "0%"
    assert charts.percent(0.125) == "12.5%"
    assert charts.percent(2 / 3) == "66.7%"
    assert charts.percent(1) == "100%"
    assert charts.count(3) == "3"
    assert charts.count(2.54) == "2.5"


def test_buckets_are_named_for_the_axis_and_the_tooltip() -> None:
    start = datetime(2026, 11, 2, tzinfo=UTC)
    assert charts.bucket_label(start, "week") == "Nov 2"
    assert charts.bucket_label(start, "month") == "Nov 2026"
    assert charts.bucket_name(start, "week") == "week of 2 Nov 2026"
    assert charts.bucket_name(start, "day") == "2 Nov 2026"
    assert charts.bucket_name(start, "month") == "November 2026"


def test_bars_are_an_accessible_image_with_a_bar_per_value() -> None:
    svg = charts.bars(
        "freq",
        "Deployments per week",
        ["Nov 2", "Nov 9", "Nov 16"],
        [Series("completed", [3, 0, 5], "ok"), Series("failures", [1, 0, 0], "bad")],
        names=["week of 2 Nov", "week of 9 Nov", "week of 16 Nov"],
        y_label="Deployments",
        x_label="Week starting",
    )
    root = _parsed(svg)
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "freq-title freq-desc"
    assert root.findtext(f"{SVG}title") == "Deployments per week"
    desc = root.findtext(f"{SVG}desc") or ""
    assert "3 buckets" in desc
    assert "completed: highest 5 (week of 16 Nov)" in desc
    rects = root.findall(f"{SVG}rect")
    # Zero draws nothing: three bars.
    assert [r.findtext(f"{SVG}title") for r in rects] == [
        "week of 2 Nov: 3 completed",
        "week of 2 Nov: 1 failures",
        "week of 16 Nov: 5 completed",
    ]
    assert {r.get("class") for r in rects} == {"tone-ok", "tone-bad"}
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "Deployments" in texts
    assert "Week starting" in texts
    assert "Nov 9" in texts
    # The axis rises to 6 by 2: a bar of 5 is five sixths of the plot's height.
    ticks = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "tick"]
    assert ticks[:4] == ["0", "2", "4", "6"]
    heights = [float(r.get("height") or 0) for r in rects]
    assert max(heights) == pytest.approx((220 - 12 - 40) * 5 / 6, abs=0.2)


def test_an_empty_chart_says_so_and_stays_well_formed() -> None:
    for svg in (
        charts.bars("e", "Nothing", [], [Series("completed", [])], y_label="y", x_label="x"),
        charts.bars(
            "z", "Zeros", ["a", "b"], [Series("completed", [0, 0])], y_label="y", x_label="x"
        ),
        charts.lines(
            "l", "Gaps", ["a", "b"], [Series("median", [None, None])], y_label="y", x_label="x"
        ),
        charts.hbars("h", "Nobody", [], empty="Nobody in this period"),
    ):
        root = _parsed(svg)
        assert root.get("role") == "img"
        empty = [t for t in root.iter(f"{SVG}text") if t.get("class") == "empty"]
        assert len(empty) == 1, svg
        assert not root.findall(f"{SVG}rect")


def test_lines_leave_a_gap_where_there_is_nothing_to_measure() -> None:
    svg = charts.lines(
        "lead",
        "Median lead time",
        ["a", "b", "c", "d", "e"],
        [Series("lead time", [3600, 7200, None, 1800, 900])],
        y_label="Lead time",
        x_label="Week",
    )
    root = _parsed(svg)
    assert len(root.findall(f"{SVG}circle")) == 4
    # Two runs either side of the gap.
    assert len(root.findall(f"{SVG}polyline")) == 2
    ticks = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "tick"]
    # A duration axis steps by round amounts of time.
    assert "2h" in ticks
    assert "1h 23m" not in ticks
    titles = [c.findtext(f"{SVG}title") for c in root.findall(f"{SVG}circle")]
    assert titles[0] == "a: lead time 1h"


def test_rate_axes_are_percentages() -> None:
    svg = charts.bars(
        "r", "Failure rate", ["a", "b"], [Series("failed", [0.5, None])],
        y_label="Rate", x_label="Week", kind="rate",
    )  # fmt: skip
    ticks = [t.text for t in _parsed(svg).iter(f"{SVG}text") if t.get("class") == "tick"]
    assert ticks[:2] == ["0%", "10%"]
    assert "50%" in ticks


def test_horizontal_bars_name_each_row_and_its_value() -> None:
    svg = charts.hbars(
        "codes", "Blocked by check", [("NO_DEPLOY_WINDOW", 4), ("INSUFFICIENT_SOAK_TIME", 2)]
    )
    root = _parsed(svg)
    rects = root.findall(f"{SVG}rect")
    assert [r.findtext(f"{SVG}title") for r in rects] == [
        "NO_DEPLOY_WINDOW: 4",
        "INSUFFICIENT_SOAK_TIME: 2",
    ]
    assert float(rects[0].get("width") or 0) == pytest.approx(2 * float(rects[1].get("width") or 0))
    assert root.findtext(f"{SVG}desc") == "NO_DEPLOY_WINDOW: 4; INSUFFICIENT_SOAK_TIME: 2"


def test_names_are_escaped() -> None:
    svg = charts.hbars("x", "<script>", [("<b>&", 1)])
    assert "<script>" not in svg
    assert "&lt;b&gt;&amp;" in svg
    _parsed(svg)


def test_long_periods_label_only_some_buckets() -> None:
    labels = [f"d{i}" for i in range(30)]
    svg = charts.bars("many", "Many", labels, [Series("n", [1] * 30)], y_label="y", x_label="x")
    root = _parsed(svg)
    shown = [t.text for t in root.iter(f"{SVG}text") if re.fullmatch(r"d\d+", t.text or "")]
    assert 0 < len(shown) <= 8
    assert len(root.findall(f"{SVG}rect")) == 30
