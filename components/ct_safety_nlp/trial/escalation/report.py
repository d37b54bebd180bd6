"""The HTML report of a design simulation: per scenario, a table of operating
characteristics and bar charts of the selection probability and the patients
per dose, one series per design (self-contained page, :mod:`ct_safety_nlp.report`)."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Sequence, Union

from ct_safety_nlp.report import Page, bar_chart, html_table
from ct_safety_nlp.report.page import escape


def design_label(design: Dict) -> str:
    name = {"3+3": "3+3", "boin": "BOIN", "mtpi2": "mTPI-2"}.get(design["design"], design["design"])
    if design["design"] == "3+3" and design.get("deescalate"):
        name += " (de-escalation)"
    return name


def oc_rows(results: Sequence[Dict]) -> List[Dict]:
    """One flat, JSON-safe row per (scenario, design) for tables and csv."""
    rows = []
    for r in results:
        row = {"scenario": r.get("scenario_index", 1), "design": design_label(r["design"]), "true_dlt": ", ".join(f"{p:g}" for p in r["scenario"])}
        for i, v in enumerate(r["selection_pct"], start=1):
            row[f"sel_{i}"] = v
        row["sel_none"] = r["no_mtd_pct"]
        for i, v in enumerate(r["patients_per_dose"], start=1):
            row[f"n_{i}"] = round(v, 1)
        row.update(
            {
                "mean_patients": round(r["mean_patients"], 1),
                "mean_dlt": round(r["mean_dlt"], 2),
                "dlt_rate": round(r["dlt_rate"], 3),
                "stopped_for_toxicity_pct": r["stopped_early_for_toxicity_pct"],
                "ntrial": r["ntrial"],
                "seconds": r["seconds"],
            }
        )
        rows.append(row)
    return rows


def simulation_page(results: Sequence[Dict], *, title: str = "Dose-escalation design simulation") -> Page:
    """A :class:`~ct_safety_nlp.report.Page` for the results of :func:`.simulation.compare`."""
    if not results:
        raise ValueError("simulation_page: no results")
    first = results[0]
    num = len(first["selection_pct"])
    designs = []
    for r in results:
        if design_label(r["design"]) not in [design_label(d) for d in designs]:
            designs.append(r["design"])
    target = next((r["design"].get("target") for r in results if r["design"].get("target") is not None), None)
    sub = f"{len(designs)} design(s), {len({r.get('scenario_index', 1) for r in results})} scenario(s), {first['ntrial']:,} simulated trials each, seed {first['seed']}"
    if target is not None:
        sub += f", target DLT probability {target:g}"
    page = Page(title, subtitle=sub, footer="selection % carry a Monte Carlo standard error of about sqrt(p(1-p)/trials)")
    settings = []
    for d in designs:
        shown = {k: v for k, v in d.items() if k not in ("design",) and v is not None}
        settings.append({"design": design_label(d), "settings": ", ".join(f"{k}={v}" for k, v in shown.items())})
    page.section("Designs", html_table(settings, ["design", "settings"]), anchor="designs")
    by_scenario: Dict[int, List[Dict]] = {}
    for r in results:
        by_scenario.setdefault(r.get("scenario_index", 1), []).append(r)
    cats = [f"Dose {i}" for i in range(1, num + 1)] + ["No MTD"]
    for k, rs in sorted(by_scenario.items()):
        truth = ", ".join(f"{p:g}" for p in rs[0]["scenario"])
        sel = {design_label(r["design"]): list(r["selection_pct"]) + [r["no_mtd_pct"]] for r in rs}
        pts = {design_label(r["design"]): list(r["patients_per_dose"]) for r in rs}
        rows = oc_rows(rs)
        cols = ["design"] + [f"sel_{i}" for i in range(1, num + 1)] + ["sel_none"] + [f"n_{i}" for i in range(1, num + 1)] + ["mean_patients", "mean_dlt", "dlt_rate", "stopped_for_toxicity_pct", "seconds"]
        headers = {f"sel_{i}": f"sel. % d{i}" for i in range(1, num + 1)}
        headers.update({f"n_{i}": f"pts d{i}" for i in range(1, num + 1)})
        headers.update({"sel_none": "no MTD %", "mean_patients": "mean n", "mean_dlt": "mean DLTs", "dlt_rate": "DLT rate", "stopped_for_toxicity_pct": "stopped for tox. %", "seconds": "time (s)"})
        body = "".join(
            [
                f"<p>True DLT probability per dose: {escape(truth)}</p>",
                bar_chart(cats, sel, title="Probability of selecting each dose as the MTD", x_label="dose level", y_label="% of simulated trials", y_max=100),
                bar_chart(cats[:-1], pts, title="Patients treated per dose (mean)", x_label="dose level", y_label="patients"),
                html_table(rows, cols, headers=headers, float_format="{:.1f}"),
            ]
        )
        page.section(f"Scenario {k}", body, anchor=f"scenario-{k}", note=f"true DLT probabilities {truth}")
    return page


def write_simulation_report(results: Sequence[Dict], path: Union[str, Path], **kwargs) -> Path:
    """Write the simulation report atomically; returns the path."""
    return simulation_page(results, **kwargs).write(path)
