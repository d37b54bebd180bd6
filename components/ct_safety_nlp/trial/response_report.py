"""Files of ``trial response``: CSV tables, a JSON summary and one self-contained
HTML page (arm table, waterfall plot of the best % change, swimmer plot of the
responses over time, per-subject table with evidence, everything excluded).

Every file is written atomically (temporary file, fsync, rename): a crash
leaves the old file or the new one, never a part.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Dict, List, Sequence

from ..efficacy import recist
from .allocation.files import write_atomic

SUBJECT_COLUMNS = ("usubjid", "arm", "bor", "bor_day", "confirmed", "best_percent_change", "n_timepoints", "last_day", "reasons")
TIMEPOINT_COLUMNS = ("usubjid", "day", "response", "doc_id", "timepoint", "best_percent_change", "evidence")
EXCLUDED_COLUMNS = ("where", "id", "reason")
#: BOR -> colour (Okabe–Ito), shared by the waterfall and the swimmer plot
BOR_COLORS = {
    recist.CR: "#009E73", recist.PR: "#56B4E9", recist.SD: "#E69F00", recist.NON_CR_NON_PD: "#F0E442",
    recist.PD: "#D55E00", recist.NE: "#999999", recist.ND: "#BBBBBB", recist.MISSING: "#DDDDDD",
}
_SYMBOL = {recist.CR: "circle", recist.PR: "triangle", recist.SD: "diamond", recist.NON_CR_NON_PD: "diamond",
           recist.PD: "x", recist.NE: "arrow", recist.ND: "arrow"}


def _csv(rows: Sequence[Dict[str, Any]], columns: Sequence[str]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow(["; ".join(map(str, r.get(c))) if isinstance(r.get(c), list) else ("" if r.get(c) is None else r.get(c))
                    for c in columns])
    return buf.getvalue().encode("utf8")


def _arm_columns() -> List[str]:
    return (["arm", "n"] + [f"n_{c}" for c in recist.BOR_ORDER]
            + [f"{m}_{k}" for m in ("orr", "dcr") for k in ("n", "percent", "ci_low", "ci_high")])


def write_response_outputs(result: Dict[str, Any], outdir: str, *, title: str = "Tumour response (RECIST 1.1)",
                           command: str = "") -> Dict[str, str]:
    """Write subjects.csv, arms.csv, timepoints.csv, excluded.csv, response.json
    and response.html into ``outdir``; returns name -> path."""
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    tp_rows = [{"usubjid": t.usubjid, "day": t.day, "response": t.response, "doc_id": t.doc_id, "timepoint": t.timepoint,
                "best_percent_change": t.best_percent_change, "evidence": t.evidence} for t in result["timepoints"]]
    paths = {
        "subjects": write_atomic(out / "subjects.csv", _csv(result["subjects"], SUBJECT_COLUMNS)),
        "arms": write_atomic(out / "arms.csv", _csv(result["arms"], _arm_columns())),
        "timepoints": write_atomic(out / "timepoints.csv", _csv(tp_rows, TIMEPOINT_COLUMNS)),
        "excluded": write_atomic(out / "excluded.csv", _csv(result["excluded"], EXCLUDED_COLUMNS)),
    }
    summary = {"parameters": result["parameters"], "arms": result["arms"], "subjects": result["subjects"],
               "excluded": result["excluded"], "command": command}
    paths["json"] = write_atomic(out / "response.json", (json.dumps(summary, indent=2, default=str) + "\n").encode("utf8"))
    paths["html"] = render_page(result, title=title, command=command).write(out / "response.html")
    return {k: str(v) for k, v in paths.items()}


def render_page(result: Dict[str, Any], *, title: str, command: str = ""):
    from ..report import Page, bar_chart, html_table, timeline_chart

    p = result["parameters"]
    conf = (f"CR/PR confirmed by an assessment >= {p['confirm_days']:g} days later (at most {p['max_ne_between']} NE"
            f"{', one SD' if p['accept_sd_between'] else ', no SD'} in between)" if p["confirm"] else "no confirmation required")
    page = Page(title, subtitle=f"{len(result['subjects'])} subjects, {len(result['arms'])} arm(s); {conf}; "
                                f"SD at least {p['min_sd_days']:g} days after the start",
                footer=command or None)
    arm_rows = []
    for a in result["arms"]:
        arm_rows.append({
            "arm": a["arm"], "n": a["n"], **{c: a[f"n_{c}"] for c in recist.BOR_ORDER},
            "ORR % (95% CI)": f"{a['orr_percent']:.1f} ({a['orr_ci_low']:.1f}–{a['orr_ci_high']:.1f})",
            "DCR % (95% CI)": f"{a['dcr_percent']:.1f} ({a['dcr_ci_low']:.1f}–{a['dcr_ci_high']:.1f})",
        })
    page.section("Response by arm", html_table(arm_rows, ["arm", "n", *recist.BOR_ORDER, "ORR % (95% CI)", "DCR % (95% CI)"],
                                               caption="Best overall response per subject, counted per arm"),
                 anchor="arms", note="ORR: CR or PR; DCR: CR, PR, SD or non-CR/non-PD; every subject of the arm in the "
                                     "denominator. 95% CIs: exact (Clopper–Pearson).")
    with_pct = sorted((r for r in result["subjects"] if r["best_percent_change"] is not None),
                      key=lambda r: -r["best_percent_change"])
    if with_pct:
        cats = [r["usubjid"] for r in with_pct]
        present = [b for b in recist.BOR_ORDER if any(r["bor"] == b for r in with_pct)]
        series = {b: [r["best_percent_change"] if r["bor"] == b else None for r in with_pct] for b in present}
        links = {b: [f"#subject-{r['usubjid']}" if r["bor"] == b else None for r in with_pct] for b in present}
        page.section("Waterfall: best % change of the target sum from baseline",
                     bar_chart(cats, series, stacked=True, links=links, colors={b: BOR_COLORS[b] for b in present}, bar_size=26, y_label="best % change from baseline",
                               x_label="subject (bar colour: best overall response)"),
                     anchor="waterfall", note="-30 % is the RECIST 1.1 partial-response threshold; +20 % from the nadir "
                                              "(with +5 mm) is progression. Subjects without a measured change are not drawn.")
    swim = []
    for r in result["subjects"]:
        if not r["timepoints"]:
            continue
        swim.append({
            "label": f"{r['usubjid']} ({r['arm']})",
            "segments": [{"start": 0, "end": max(r["last_day"], 1), "color": r["bor"],
                          "title": f"{r['usubjid']}: BOR {r['bor']}", "href": f"#subject-{r['usubjid']}"}],
            "markers": [{"at": t["day"], "symbol": _SYMBOL.get(t["response"], "x"),
                         "title": f"day {t['day']:g}: {t['response']} ({t['doc_id']})"} for t in r["timepoints"]],
        })
    if swim:
        page.section("Swimmer plot: responses over time",
                     timeline_chart(swim, x_label="days since the reference start",
                                    colors={b: c for b, c in BOR_COLORS.items() if any(r["segments"][0]["color"] == b for r in swim)}),
                     anchor="swimmer", note="Bar: time on study to the last assessment, coloured by the best overall "
                                            "response. Markers: circle CR, triangle PR, diamond SD (or non-CR/non-PD), "
                                            "x PD, arrow NE.")
    subj_rows = [{**r, "evidence": " | ".join(r["reasons"] + [f"day {t['day']:g} {t['response']}: {'; '.join(t['evidence'])}"
                                                               for t in r["timepoints"]])} for r in result["subjects"]]
    page.section("Subjects", _anchored(html_table(subj_rows, ["usubjid", "arm", "bor", "bor_day", "confirmed",
                                                              "best_percent_change", "n_timepoints", "evidence"]),
                                       [r["usubjid"] for r in result["subjects"]]), anchor="subjects")
    page.section("Not used", html_table(result["excluded"], list(EXCLUDED_COLUMNS)) if result["excluded"] else
                 "<p>Every record was used.</p>", anchor="excluded",
                 note=f"{len(result['excluded'])} record(s) left out, each with its reason (also in excluded.csv).")
    return page


def _anchored(table_html: str, ids: Sequence[str]) -> str:
    """Give each body row of a subject table the id ``subject-<USUBJID>`` (the charts link there)."""
    from ..report.page import escape

    parts = table_html.split("<tr>")
    head, rows = parts[:2], parts[2:]
    out = ["<tr>".join(head)]
    for usubjid, row in zip(ids, rows):
        out.append(f'<tr id="subject-{escape(usubjid)}">' + row)
    return "".join(out)
