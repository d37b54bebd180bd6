"""ct_safety_nlp.report: pages are self-contained, charts are valid SVG with the
marks, tooltips and links asked for, and bad input is a clear error."""

import xml.etree.ElementTree as ET

import pytest

from ct_safety_nlp.report import Page, bar_chart, html_table, line_chart, timeline_chart
from ct_safety_nlp.report.charts import nice_ticks

SVG = "{http://www.w3.org/2000/svg}"


def _svg(fragment: str) -> ET.Element:
    start = fragment.index("<svg")
    end = fragment.rindex("</svg>") + len("</svg>")
    return ET.fromstring(fragment[start:end])


@pytest.mark.parametrize(
    "lo,hi,expected",
    [(0, 10, [0, 2, 4, 6, 8, 10]), (0, 1, [0, 0.2, 0.4, 0.6, 0.8, 1.0]), (-35, 20, [-40, -20, 0, 20]), (5, 5, [5, 5.2, 5.4, 5.6, 5.8, 6.0])],
)
def test_nice_ticks_cover_the_range(lo, hi, expected):
    assert nice_ticks(lo, hi) == pytest.approx(expected)


def test_bar_chart_bars_tooltips_links_and_negative_values():
    svg = bar_chart(["S-1", "S-2", "S-3"], {"best % change": [-35.0, 12.5, None]}, title="Waterfall",
                    links={"best % change": ["#s1", None, None]})
    root = _svg(svg)
    rects = [r for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    assert [r.find(f"{SVG}title").text for r in rects] == ["S-1: -35.0", "S-2: 12.5"]  # None: no bar
    links = list(root.iter(f"{SVG}a"))
    assert len(links) == 1 and links[0].get("href") == "#s1"
    neg, pos = rects  # the negative bar starts at the zero line and goes down
    assert float(neg.get("y")) > float(pos.get("y"))


def test_grouped_and_stacked_bars_and_legend():
    svg = bar_chart(["1", "2"], {"BOIN": [0.1, 0.5], "3+3": [0.2, 0.4]}, stacked=False, horizontal=True)
    root = _svg(svg)
    assert len([r for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]) == 4
    assert {t.text for t in root.iter(f"{SVG}text")} >= {"BOIN", "3+3"}
    stacked = _svg(bar_chart(["A"], {"G1": [2], "G2": [3]}, stacked=True))
    assert len([r for r in stacked.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]) == 2


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda: bar_chart(["a", "b"], {"n": [1]}), "has 1 values for 2 categories"),
        (lambda: bar_chart(["a"], {}), "at least one series"),
        (lambda: bar_chart(["a"], {"n": ["x"]}), "non-numeric"),
        (lambda: bar_chart(["a"], {"n": [1]}, links={"m": ["#"]}), "links"),
        (lambda: line_chart([], {"n": []}), "empty"),
        (lambda: timeline_chart([]), "no rows"),
        (lambda: timeline_chart([{"label": "S", "segments": [{"start": 1}]}]), "without start/end"),
        (lambda: timeline_chart([{"label": "S", "markers": [{"at": 1, "symbol": "star"}]}]), "unknown marker symbol"),
    ],
)
def test_bad_chart_input_is_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_line_and_timeline_charts_are_valid_svg():
    root = _svg(line_chart([1, 2, 3], {"ORR": [0.1, None, 0.3]}, title="t"))
    assert len(list(root.iter(f"{SVG}circle"))) == 2
    rows = [
        {"label": "01-001", "segments": [{"start": 3, "end": 10, "color": "Grade 3", "title": "Diarrhea G3", "href": "#e1"}],
         "markers": [{"at": 12, "symbol": "x", "title": "death"}, {"at": 1, "symbol": "circle"}]},
        {"label": "01-002", "segments": [{"start": 0, "end": 30, "color": "Grade 1"}]},
    ]
    root = _svg(timeline_chart(rows, colors={"Grade 1": "#56B4E9", "Grade 3": "#D55E00"}, x_label="Study day"))
    titled = [e.find(f"{SVG}title").text for e in root.iter() if e.find(f"{SVG}title") is not None]
    assert "Diarrhea G3" in titled and "death" in titled
    assert [a.get("href") for a in root.iter(f"{SVG}a")] == ["#e1"]


def test_html_table_escapes_links_and_aligns_numbers():
    rows = [{"term": "Rash <maculo-papular>", "n": 3, "pct": 12.5, "href": "docs.html#d1"}]
    out = html_table(rows, ["term", "n", "pct"], links={"n": "href"}, headers={"pct": "%"}, caption="By term")
    assert "&lt;maculo-papular&gt;" in out and "<caption>By term</caption>" in out
    assert '<td class="num"><a href="docs.html#d1">3</a></td>' in out and '<td class="num">12.5</td>' in out
    assert "<th scope=\"col\">%</th>" in out


def test_page_is_self_contained_and_written_atomically(tmp_path):
    page = Page("Safety <summary>", subtitle="Study CT-01")
    page.section("Overview", html_table([{"a": 1}], ["a"]), anchor="overview")
    page.section("Chart", bar_chart(["x"], {"n": [1]}), note="from docs.jsonl")
    with pytest.raises(ValueError, match="duplicate section anchor"):
        page.section("Again", "", anchor="overview")
    path = page.write(tmp_path / "sub" / "report.html")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "Safety &lt;summary&gt;" in text
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in text
    assert '<a href="#overview">' in text and "from docs.jsonl" in text
    assert [p.name for p in path.parent.iterdir()] == ["report.html"]  # no temp file left
    with pytest.raises(ValueError):
        Page("  ")


def test_written_pages_are_readable_like_plain_files(tmp_path):
    import os
    import stat

    umask = os.umask(0o022)
    try:
        path = Page("Permissions").write(tmp_path / "r.html")
    finally:
        os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_bar_chart_series_colours():
    root = _svg(bar_chart(["A"], {"Grade 1": [2], "Grade 5": [1]}, stacked=True, colors={"Grade 5": "#000000"}))
    bars = {r.find(f"{SVG}title").text: r.get("fill") for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None}
    assert bars["A — Grade 5: 1.0"] == "#000000"
    assert bars["A — Grade 1: 2.0"] == "#0072B2"  # not given: the palette's first colour
    legend = [r.get("fill") for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is None and r.get("width") == "10"]
    assert legend == ["#0072B2", "#000000"]


def test_bar_chart_colors_per_series():
    svg = bar_chart(["S-1", "S-2"], {"PR": [-40.0, None], "PD": [None, 25.0]}, stacked=True,
                    colors={"PR": "#56B4E9", "PD": "#D55E00"})
    fills = [r.get("fill") for r in _svg(svg).iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    assert fills == ["#56B4E9", "#D55E00"]
    legend = [r.get("fill") for r in _svg(svg).iter(f"{SVG}rect") if r.find(f"{SVG}title") is None and r.get("width") == "10"]
    assert legend == ["#56B4E9", "#D55E00"]
    with pytest.raises(ValueError, match="do not exist"):
        bar_chart(["S-1"], {"PR": [1.0]}, colors={"CR": "#000"})
