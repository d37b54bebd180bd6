"""``summarize``: from an ``annotate`` output folder and a subject file to the
safety tables, episodes, reconciliation and report, written to one folder.

Outputs (all written atomically):
``population.csv``, ``overview.csv``, ``teae_by_term.csv``, ``teae_by_soc.csv``,
``teae_by_grade.csv``, ``tables.md``, ``episodes.csv``, ``mentions.csv``,
``excluded.csv``, ``reconciliation.csv`` (with an AE table), ``report.html``,
``summary.json``.

Exit codes of the CLI: 0 done; 2 an input file cannot be used (the message
names FILE:LINE) or bad options; 1 crashed. Excluded records do not change
the exit code: they are counted in the summary line and listed in
``excluded.csv``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from typing import Any, Dict, Optional, TextIO

from ..inputs import load_trial_inputs
from .episodes import EPISODE_FIELDS, MENTION_FIELDS, build_episodes, episode_row, episodes_from_ae_rows, mention_row
from .reconcile import RECONCILIATION_FIELDS, reconcile
from .tables import (
    GRADE_FIELDS, SOC_FIELDS, TERM_FIELDS, overview_table, population_table, tables_markdown, teae_by_grade,
    teae_by_soc, teae_by_term, write_csv, write_text,
)

EXCLUDED_FIELDS = ("kind", "record", "usubjid", "where", "reason")


@dataclass
class SummarizeOptions:
    annotations: Optional[str]
    subjects: str
    output: str
    map_path: Optional[str] = None
    edc: Optional[str] = None
    protocol: Optional[str] = None
    end_window: Optional[int] = None
    tables_from: str = "text"  # text | edc
    dose_level_column: Optional[str] = None
    report: bool = True
    title: str = "Trial safety summary"


def summarize(opts: SummarizeOptions, stream: Optional[TextIO] = None) -> Dict[str, Any]:
    """Run and write everything; RETURNS the summary dict (also summary.json).
    Raises :class:`~ct_safety_nlp.trial.inputs.InputFileError` or ValueError
    on unusable input / options."""
    stream = stream or sys.stderr
    t0 = time.monotonic()

    def say(msg: str) -> None:
        stream.write(f"[{time.monotonic() - t0:6.1f}s] {msg}\n")
        stream.flush()

    if opts.tables_from not in ("text", "edc"):
        raise ValueError(f"--tables-from must be 'text' or 'edc', not {opts.tables_from!r}")
    if opts.tables_from == "edc" and not opts.edc:
        raise ValueError("--tables-from edc needs --edc")
    if opts.end_window is not None and opts.end_window < 0:
        raise ValueError("--end-window must be 0 or more days")
    protocol = None
    if opts.protocol:
        from ...protocol import read_protocol

        protocol = read_protocol(opts.protocol)
    say(f"reading {opts.annotations or '(no annotations)'}, subjects {opts.subjects}" + (f", EDC {opts.edc}" if opts.edc else ""))
    inputs = load_trial_inputs(opts.annotations, opts.subjects, map_path=opts.map_path, ae_path=opts.edc, dose_level_column=opts.dose_level_column)
    say(f"{len(inputs.documents)} documents of {len(inputs.safety_population())} safety-population subjects; {len(inputs.excluded)} records excluded so far")
    text_episodes, mentions, mention_excluded = build_episodes(inputs, end_window=opts.end_window, protocol=protocol)
    excluded = inputs.excluded + mention_excluded
    say(f"{len(mentions)} AE mentions -> {len(text_episodes)} episodes ({sum(1 for e in text_episodes if e.teae == 'Y')} treatment-emergent)")
    edc_episodes = episodes_from_ae_rows(inputs.ae_rows, inputs.subjects, end_window=opts.end_window) if inputs.ae_rows is not None else None
    counted = edc_episodes if opts.tables_from == "edc" else text_episodes
    subjects = inputs.subjects
    overview = overview_table(counted, subjects)
    by_term = teae_by_term(counted, subjects)
    by_soc = teae_by_soc(counted, subjects)
    by_grade = teae_by_grade(counted, subjects)
    out = opts.output
    os.makedirs(out, exist_ok=True)
    write_csv(os.path.join(out, "population.csv"), population_table(subjects), ("arm", "subjects"))
    write_csv(os.path.join(out, "overview.csv"), overview, ("arm", "category", "subjects", "percent"))
    write_csv(os.path.join(out, "teae_by_term.csv"), by_term, TERM_FIELDS)
    write_csv(os.path.join(out, "teae_by_soc.csv"), by_soc, SOC_FIELDS)
    write_csv(os.path.join(out, "teae_by_grade.csv"), by_grade, GRADE_FIELDS)
    write_text(os.path.join(out, "tables.md"), tables_markdown(subjects, overview, by_term, by_soc, by_grade) + "\n")
    all_episodes = list(text_episodes) + (list(edc_episodes) if opts.tables_from == "edc" else [])
    write_csv(os.path.join(out, "episodes.csv"), [episode_row(e) for e in all_episodes], EPISODE_FIELDS)
    subj_of = {d.id: d.usubjid for d in inputs.documents}
    write_csv(os.path.join(out, "mentions.csv"), [mention_row(m, subj_of.get(m.doc_id, "")) for m in mentions], MENTION_FIELDS)
    write_csv(os.path.join(out, "excluded.csv"), [x.as_row() for x in excluded], EXCLUDED_FIELDS)
    recon = None
    if inputs.ae_rows is not None:
        recon = reconcile(text_episodes, inputs.ae_rows, subjects)
        write_csv(os.path.join(out, "reconciliation.csv"), recon, RECONCILIATION_FIELDS)
    pop = population_table(subjects)
    any_teae = {r["arm"]: r["subjects"] for r in overview if r["category"] == "any_teae"}
    summary: Dict[str, Any] = {
        "documents_used": len(inputs.documents),
        "safety_population": sum(r["subjects"] for r in pop),
        "arms": {r["arm"]: r["subjects"] for r in pop},
        "subjects_with_teae": any_teae,
        "mentions": len(mentions),
        "episodes": len(text_episodes),
        "teae_episodes": sum(1 for e in counted if e.teae == "Y"),
        "tables_from": opts.tables_from,
        "excluded": len(excluded),
        "excluded_by_kind": _by_kind(excluded),
        "end_window": opts.end_window,
    }
    if recon is not None:
        summary["reconciliation"] = {s: sum(1 for r in recon if r["status"] == s) for s in ("both", "text_only", "edc_only")}
        summary["reconciliation"]["grade_disagrees"] = sum(1 for r in recon if r["grade_agrees"] == "no")
        summary["reconciliation"]["serious_disagrees"] = sum(1 for r in recon if r["serious_agrees"] == "no")
    if opts.report:
        from .report import build_report

        counts = {
            "documents used": summary["documents_used"], "AE mentions": summary["mentions"],
            "episodes (text)": summary["episodes"], "TEAE episodes counted": summary["teae_episodes"],
            "tables from": opts.tables_from, "excluded records": summary["excluded"],
            "TEAE end window (days after last dose)": "none" if opts.end_window is None else opts.end_window,
        }
        shown = list(counted) if opts.tables_from == "edc" else list(text_episodes)
        page = build_report(subjects=subjects, episodes=shown, overview=overview, by_term=by_term, by_soc=by_soc,
                            by_grade=by_grade, reconciliation=recon, excluded=excluded, counts=counts, title=opts.title)
        page.write(os.path.join(out, "report.html"))
    summary["wall_s"] = round(time.monotonic() - t0, 3)
    write_text(os.path.join(out, "summary.json"), json.dumps(summary, indent=2) + "\n")
    say("wrote " + out)
    return summary


def _by_kind(excluded) -> Dict[str, int]:
    out: Dict[str, int] = {}
    for x in excluded:
        out[x.kind] = out.get(x.kind, 0) + 1
    return out


def summary_line(summary: Dict[str, Any]) -> str:
    arms = ", ".join(f"{a} {summary['subjects_with_teae'].get(a, 0)}/{n}" for a, n in summary["arms"].items())
    line = (f"summarize: {summary['documents_used']} documents, {summary['safety_population']} subjects in the safety population "
            f"(with a TEAE: {arms}), {summary['episodes']} episodes, {summary['teae_episodes']} TEAE episodes counted "
            f"(from {summary['tables_from']}), {summary['excluded']} records excluded")
    if "reconciliation" in summary:
        r = summary["reconciliation"]
        line += f"; EDC: {r['both']} both, {r['text_only']} text only, {r['edc_only']} EDC only"
    return line
