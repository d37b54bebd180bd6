"""HTML balance reports (tables and inline-SVG charts via :mod:`ct_safety_nlp.report`)."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Mapping, Union

from ...report import Page, bar_chart, html_table, line_chart
from .balance import balance_summary, imbalance, rows_as_allocations

PathLike = Union[str, Path]


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_fmt(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_fmt(v)}" for k, v in value.items())
    return str(value)


def _parameter_table(params: Mapping[str, object]) -> str:
    return html_table([{"parameter": k, "value": _fmt(v)} for k, v in params.items()], ["parameter", "value"])


def _balance_sections(page: Page, summary: Mapping[str, object], *, running_note: str) -> None:
    arms = summary["arms"]
    overall = summary["overall"]
    largest = summary["largest"]
    rows = [{"what": "overall", "n": overall["n"], **overall["counts"], "imbalance": overall["imbalance"]}]
    page.section(
        "Balance overall",
        html_table(rows, ["what", "n", *arms, "imbalance"])
        + html_table(
            [{"largest imbalance": k.replace("_", " "), "value": v} for k, v in largest.items()],
            ["largest imbalance", "value"],
        ),
        anchor="overall",
        note="Imbalance: max - min over the arms of count / ratio part (for 1:1, the difference between the arms).",
    )
    strata = [s for s in summary["strata"]]
    srows = [{"stratum": s["stratum"], "n": s["n"], **s["counts"], "imbalance": s["imbalance"], "max running imbalance": s["max_running"]} for s in strata]
    chart = bar_chart([s["stratum"] for s in strata], {a: [s["counts"][a] for s in strata] for a in arms},
                      title="Subjects per arm by stratum", y_label="subjects", value_format="{:.0f}", horizontal=len(strata) > 8)
    page.section("Balance per stratum", html_table(srows, ["stratum", "n", *arms, "imbalance", "max running imbalance"]) + f'<div class="chart">{chart}</div>',
                 anchor="strata", note=running_note)
    margins = summary["margins"]
    if margins:
        mrows = [{"factor": m["factor"], "level": m["level"], "n": m["n"], **m["counts"], "imbalance": m["imbalance"]} for m in margins]
        labels = [f"{m['factor']}={m['level']}" for m in margins]
        mchart = bar_chart(labels, {a: [m["counts"][a] for m in margins] for a in arms}, title="Subjects per arm by factor level",
                           y_label="subjects", value_format="{:.0f}")
        page.section("Balance per factor level (margins)", html_table(mrows, ["factor", "level", "n", *arms, "imbalance"]) + f'<div class="chart">{mchart}</div>', anchor="margins")


def list_report_page(lst: Mapping[str, object]) -> Page:
    """The balance report of a permuted-block list (:func:`blocks.permuted_block_list`)."""
    meta = lst["meta"]
    summary = balance_summary(rows_as_allocations(lst["rows"], meta["strata"]), arms=meta["arms"], factors=meta["strata"], ratio=meta["ratio"])
    page = Page("Randomisation list: balance", subtitle=f"permuted blocks {_fmt(meta['blocks'])}, seed {meta['seed']}, sha256 {meta['sha256'][:16]}…")
    page.section("Design", _parameter_table({k: meta[k] for k in ("arms", "ratio", "blocks", "strata", "n_per_stratum", "seed", "rows", "sha256")}), anchor="design",
                 note=f"Random stream: {meta['rng']}. Versions: {_fmt(meta['versions'])}.")
    _balance_sections(page, summary, running_note="Every stratum list ends on a block end, so each is balanced when used in full; "
                      "'max running imbalance' is the worst imbalance at any point along the stratum's list.")
    return page


def state_report_page(state: Mapping[str, object]) -> Page:
    """The balance report of a minimisation state (:func:`state.read_state`)."""
    design = state["design"]
    allocations = state["allocations"]
    arms, ratio = design["arms"], design["ratio"]
    summary = balance_summary(allocations, arms=arms, factors=design["factors"], ratio=ratio)
    page = Page("Minimisation: balance", subtitle=f"{len(allocations)} subjects allocated; method {design['method']}, p = {design['p']:g}")
    shown = {k: v for k, v in design.items() if k != "seed"}
    page.section("Design", _parameter_table(shown), anchor="design", note="The seed is left out of this page: it would let a reader predict the next allocation.")
    _balance_sections(page, summary, running_note="Minimisation balances the margins, not the strata; 'max running imbalance' is the worst point along each stratum.")
    if allocations:
        totals = {a: 0 for a in arms}
        running: List[float] = []
        for record in allocations:
            totals[record["arm"]] += 1
            running.append(imbalance(totals, arms, ratio))
        xs = list(range(1, len(allocations) + 1))
        page.section("Overall imbalance over time", f'<div class="chart">{line_chart(xs, {"overall imbalance": running}, title="Overall imbalance after each allocation", x_label="subjects allocated", y_label="imbalance", markers=len(xs) <= 60)}</div>', anchor="running")
    return page


def simulation_report_page(sim: Mapping[str, object], command: str = "") -> Page:
    """The report of :func:`simulate.simulate_balance`: summary table, distribution and predictability charts."""
    params = sim["parameters"]
    methods = sim["methods"]
    page = Page("Allocation balance: simulation", subtitle=f"{params['n_runs']} runs of {params['n_subjects']} subjects, {params['n_strata']} strata, seed {params['seed']}")
    page.section("Parameters", _parameter_table(params), anchor="parameters", note=(f"Command: {command}. " if command else "") + f"Random stream: {sim['meta']['rng']}.")
    rows = []
    for m in methods:
        s = m["summary"]
        rows.append({
            "method": m["method"],
            "overall mean": s["overall"]["mean"], "overall p95": s["overall"]["p95"], "overall max": s["overall"]["max"],
            "margin mean": s["margin_max"]["mean"], "margin p95": s["margin_max"]["p95"], "margin max": s["margin_max"]["max"],
            "stratum mean": s["stratum_max"]["mean"], "stratum p95": s["stratum_max"]["p95"],
            "correct guesses %": 100.0 * s["correct_guess"]["mean"],
        })
    cols = list(rows[0])
    names = [m["method"] for m in methods]
    bars = bar_chart(names, {"mean": [m["summary"]["margin_max"]["mean"] for m in methods], "95th percentile": [m["summary"]["margin_max"]["p95"] for m in methods]},
                     title="Largest marginal imbalance per trial", y_label="imbalance", show_values=True, horizontal=True)
    page.section("Imbalance by method", html_table(rows, cols, float_format="{:.2f}") + f'<div class="chart">{bars}</div>', anchor="summary",
                 note="overall: final difference between arms (ratio-adjusted); margin: the largest over every factor level; "
                      "stratum: the largest over the strata (factor combinations); p95: nearest-rank 95th percentile over runs. "
                      "Correct guesses: an observer who knows the method and all earlier allocations (Blackwell & Hodges 1957).")
    values = sorted({float(v) for m in methods for v in m["distribution"]["margin_max"]})
    cdf: Dict[str, List[float]] = {}
    for m in methods:
        dist = {float(k): c for k, c in m["distribution"]["margin_max"].items()}
        total, acc, ys = sum(dist.values()), 0, []
        for v in values:
            acc += dist.get(v, 0)
            ys.append(100.0 * acc / total)
        cdf[m["method"]] = ys
    page.section("Distribution of the largest marginal imbalance",
                 f'<div class="chart">{line_chart(values, cdf, title="Runs with largest marginal imbalance at or below x (%)", x_label="largest marginal imbalance", y_label="% of runs")}</div>',
                 anchor="distribution")
    guess = bar_chart(names, {"correct guesses %": [100.0 * m["summary"]["correct_guess"]["mean"] for m in methods]}, title="Predictability: correct guesses (%)",
                      y_label="%", show_values=True, y_max=100, horizontal=True)
    page.section("Predictability", f'<div class="chart">{guess}</div>', anchor="predictability",
                 note="50% for 1:1 simple randomisation is the floor; higher means an enrolling investigator could foresee more allocations.")
    return page


def write_page(page: Page, path: PathLike) -> Path:
    return page.write(path)


__all__ = ["list_report_page", "simulation_report_page", "state_report_page", "write_page"]
