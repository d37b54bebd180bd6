"""``en-clinical-trials trial escalate`` and ``trial simulate``: dose-escalation
decisions per cohort, and the operating characteristics of designs.

Exit status (both commands): 0 done; 2 bad input (the message names what and
where: an outcome string that does not parse, a dose level out of range, a
target outside (0, 1), a cohort at an eliminated dose, a file:line).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import List, Optional

import typer

DESIGN_HELP = "design: 3+3, boin or mtpi2"


def _fail(command: str, message: str) -> typer.Exit:
    typer.echo(f"trial {command}: error: {message}", err=True)
    return typer.Exit(code=2)


def _design_kwargs(deescalate, p_saf, p_tox, cutoff_eli, epsilon1, epsilon2, n_earlystop, earlystop_rule, stay_on_one_of_three, max_patients):
    return dict(
        deescalate=deescalate,
        p_saf=p_saf,
        p_tox=p_tox,
        cutoff_eli=cutoff_eli,
        epsilon1=epsilon1,
        epsilon2=epsilon2,
        n_earlystop=n_earlystop,
        earlystop_rule=earlystop_rule,
        stay_on_one_of_three=stay_on_one_of_three,
        max_patients=max_patients,
    )


def _print_escalation(result: dict, assessment: Optional[dict]) -> None:
    d = result["design"]
    head = f"design {d['design']}, {d['num_doses']} doses" + (f", target {d['target']:g}" if d.get("target") is not None else "")
    if d["design"] == "boin":
        head += f" (lambda_e {d['lambda_e']}, lambda_d {d['lambda_d']})"
    typer.echo(head)
    if assessment is not None:
        w = assessment["window"]
        typer.echo(f"DLT window: days 1-{w['window_days']}; evaluable if followed >= {w['min_followup_days']} days" + (" or a DLT in the window" if w["dlt_always_evaluable"] else ""))
    for item in result["decisions"]:
        nxt = "stop" if item["decision"] == "stop" else (f"{item['decision']} to dose {item['next_dose']}" if item["decision"] != "stay" else f"stay at dose {item['next_dose']}")
        typer.echo(f"cohort {item['cohort']}: dose {item['dose']}, {item['n']} patients, {item['dlt']} DLT -> {nxt}")
        ev = item["evidence"]
        typer.echo(f"    rule: {ev['rule']}")
        typer.echo("    at dose {dose}: {n} patients, {dlt} DLTs; all doses: ".format(**ev["at_dose"]) + ", ".join(f"d{c['dose']} {c['dlt']}/{c['n']}" for c in ev["counts"] if c["n"]))
        for dlt in ev.get("dlt_evidence", []):
            typer.echo(f"    DLT {dlt['subject']}: {dlt['ctcae_term']} grade {dlt['grade']}, day {dlt['study_day']} (rule {dlt['rule']}; {dlt['doc_id']}): {dlt['text']!r}")
        for ne in ev.get("not_evaluable", []):
            typer.echo(f"    not evaluable {ne['subject']}: {ne['reason']}")
        for note in ev.get("notes", []):
            typer.echo(f"    note: {note}")
    if assessment is not None:
        review = [(s["subject"], r) for s in assessment["subjects"] for r in s["to_review"]]
        for sid, r in review:
            typer.echo(f"to review {sid}: {r['text']!r} ({r['ctcae_term']}, grade {r['grade']}, day {r['study_day']}): {r['reason']}")
        for x in assessment["excluded"]:
            typer.echo(f"excluded {x['kind']} {x['record']} ({x['where']}): {x['reason']}")
    last = result["decisions"][-1] if result["decisions"] else None
    if result["stopped"]:
        mtd = result["mtd"]
        typer.echo(f"summary: {len(result['decisions'])} cohorts; trial stopped; MTD: " + (f"dose {mtd}" if mtd else "none") + f" ({result['mtd_evidence']['rule']})")
    elif last is not None:
        typer.echo(f"summary: {len(result['decisions'])} cohorts; next cohort at dose {last['next_dose']}; MTD not selected yet (use --final to end the trial here)")
    else:
        typer.echo("summary: no cohorts yet; the first cohort starts at dose 1")


def register(app: typer.Typer) -> None:
    @app.command("escalate")
    def escalate_command(
        design: str = typer.Option(..., "--design", help=DESIGN_HELP),
        doses: int = typer.Option(..., "--doses", help="number of dose levels"),
        target: Optional[float] = typer.Option(None, "--target", help="target DLT probability in (0, 1) (BOIN, mTPI-2)"),
        outcomes: Optional[str] = typer.Option(None, "--outcomes", help='outcome string as in R package escalation, e.g. "1NNN 2NTT"'),
        cohorts: Optional[Path] = typer.Option(None, "--cohorts", help="CSV with columns cohort, dose, subject, dlt"),
        annotations: Optional[Path] = typer.Option(None, "--annotations", help="output folder of `annotate` (docs.jsonl); needs --subjects and --protocol"),
        subjects: Optional[Path] = typer.Option(None, "--subjects", help="ADSL-shaped csv (or parquet): USUBJID, TRTSDT, DOSELVL, optional COHORT, LSTALVDT, SAFFL"),
        protocol: Optional[Path] = typer.Option(None, "--protocol", help="protocol file (YAML/JSON) with the DLT rules, dlt_window_days and evaluability"),
        dlt_window: Optional[int] = typer.Option(None, "--dlt-window", help="DLT window in days (overrides the protocol's dlt_window_days)"),
        dose_level_column: Optional[str] = typer.Option(None, "--dose-level-column", help="subject file column with the dose level"),
        final: bool = typer.Option(False, "--final", help="the last cohort ends the trial: stop and select the MTD"),
        deescalate: bool = typer.Option(False, "--deescalate", help="3+3: allow de-escalation (Korn et al. 1994)"),
        p_saf: Optional[float] = typer.Option(None, "--p-saf", help="BOIN p.saf (default 0.6 x target)"),
        p_tox: Optional[float] = typer.Option(None, "--p-tox", help="BOIN p.tox (default 1.4 x target)"),
        cutoff_eli: float = typer.Option(0.95, "--cutoff-eli", help="elimination / exclusion cut-off"),
        epsilon1: float = typer.Option(0.05, "--epsilon1", help="mTPI-2: target - epsilon1 is the equivalence interval's lower end"),
        epsilon2: float = typer.Option(0.05, "--epsilon2", help="mTPI-2: target + epsilon2 is its upper end"),
        n_earlystop: Optional[int] = typer.Option(None, "--n-earlystop", help="stop when this many patients are at the current dose (see --earlystop-rule)"),
        earlystop_rule: str = typer.Option("stay", "--earlystop-rule", help="stay: only when the decision is to stay (BOIN >= 2.7); any: whatever the decision"),
        stay_on_one_of_three: bool = typer.Option(False, "--stay-on-one-of-three", help="BOIN: stay instead of de-escalating after 1 DLT in 3 patients"),
        max_patients: Optional[int] = typer.Option(None, "--max-patients", help="maximum sample size: stop and select the MTD when reached"),
        as_json: bool = typer.Option(False, "--json", help="print one JSON object: decisions, mtd (and evidence)"),
    ) -> None:
        """The decision after each cohort (escalate / stay / de-escalate / stop) with its
        evidence, from an outcome string, a cohort CSV or trial data (annotated notes +
        subject file + protocol), and the MTD once the trial stops."""
        from ct_safety_nlp.protocol import ProtocolError, load_protocol
        from ct_safety_nlp.trial.escalation import EscalationError, escalate, make_design, parse_outcomes, read_cohort_csv
        from ct_safety_nlp.trial.escalation.dlt import assess_trial, cohorts_for_escalation
        from ct_safety_nlp.trial.inputs import InputFileError

        given = [name for name, v in (("--outcomes", outcomes), ("--cohorts", cohorts), ("--annotations", annotations)) if v is not None]
        if len(given) != 1:
            raise _fail("escalate", "give exactly one input: --outcomes, --cohorts, or --annotations with --subjects and --protocol" + (f" (got {', '.join(given)})" if given else ""))
        if annotations is not None and (subjects is None or protocol is None):
            raise _fail("escalate", "--annotations needs --subjects and --protocol")
        assessment = None
        try:
            spec = make_design(design, doses, target, **_design_kwargs(deescalate, p_saf, p_tox, cutoff_eli, epsilon1, epsilon2, n_earlystop, earlystop_rule, stay_on_one_of_three, max_patients))
            if outcomes is not None:
                data = parse_outcomes(outcomes, doses)
            elif cohorts is not None:
                data = read_cohort_csv(cohorts, doses)
            else:
                rules = load_protocol(protocol)
                assessment = assess_trial(annotations, subjects, rules, window_days=dlt_window, num_doses=doses, dose_level_column=dose_level_column)
                data = cohorts_for_escalation(assessment)
            result = escalate(data, spec, final=final)
        except (EscalationError, ProtocolError, InputFileError) as err:
            raise _fail("escalate", str(err)) from None
        if as_json:
            out = {"decisions": result["decisions"], "mtd": result["mtd"], "stopped": result["stopped"], "mtd_evidence": result["mtd_evidence"], "design": result["design"]}
            if assessment is not None:
                out["dlt_assessment"] = {"window": assessment["window"], "subjects": assessment["subjects"], "excluded": assessment["excluded"]}
            typer.echo(json.dumps(out, indent=2, default=str))
        else:
            _print_escalation(result, assessment)

    @app.command("simulate")
    def simulate_command(
        design: List[str] = typer.Option(..., "--design", help=DESIGN_HELP + "; repeat to compare designs side by side"),
        scenario: List[str] = typer.Option(..., "--scenario", help='true DLT probability per dose, e.g. "0.05,0.15,0.3,0.45,0.6"; repeatable'),
        target: Optional[float] = typer.Option(None, "--target", help="target DLT probability in (0, 1) (BOIN, mTPI-2)"),
        doses: Optional[int] = typer.Option(None, "--doses", help="number of dose levels (default: the scenario's length)"),
        trials: int = typer.Option(10000, "--trials", help="simulated trials per design and scenario"),
        ncohort: int = typer.Option(10, "--ncohort", help="maximum number of cohorts (BOIN, mTPI-2; the 3+3 runs to its own end)"),
        cohort_size: int = typer.Option(3, "--cohort-size", help="patients per cohort (BOIN, mTPI-2; the 3+3 uses 3)"),
        seed: int = typer.Option(6, "--seed", help="random seed (the same for every design and scenario)"),
        deescalate: bool = typer.Option(False, "--deescalate", help="3+3: allow de-escalation (Korn et al. 1994)"),
        cutoff_eli: float = typer.Option(0.95, "--cutoff-eli", help="elimination / exclusion cut-off"),
        epsilon1: float = typer.Option(0.05, "--epsilon1", help="mTPI-2 epsilon1"),
        epsilon2: float = typer.Option(0.05, "--epsilon2", help="mTPI-2 epsilon2"),
        n_earlystop: Optional[int] = typer.Option(None, "--n-earlystop", help="BOIN / mTPI-2 n.earlystop"),
        earlystop_rule: str = typer.Option("stay", "--earlystop-rule", help="stay or any (see trial escalate)"),
        stay_on_one_of_three: bool = typer.Option(False, "--stay-on-one-of-three", help="BOIN: stay after 1 DLT in 3"),
        report: Optional[Path] = typer.Option(None, "--report", help="write an HTML report (table + selection-probability plot) here"),
        as_json: bool = typer.Option(False, "--json", help="print the operating characteristics as JSON"),
    ) -> None:
        """Operating characteristics of one or more designs under true-toxicity scenarios
        (seeded Monte Carlo): selection probability per dose, patients and DLTs per dose,
        trial size, DLT rate, stopping rate; optionally an HTML report with the plot."""
        from ct_safety_nlp.trial.escalation import EscalationError, make_design, parse_scenario, simulate
        from ct_safety_nlp.trial.escalation.report import design_label, write_simulation_report

        t0 = time.perf_counter()
        try:
            scenarios = [parse_scenario(s) for s in scenario]
            num = doses if doses is not None else len(scenarios[0])
            for text, sc in zip(scenario, scenarios):
                if len(sc) != num:
                    raise EscalationError(f"scenario {text!r}: {len(sc)} probabilities for {num} doses" + (" (--doses)" if doses is not None else " (the first scenario's length)"))
            specs = []
            for name in design:
                tgt = target if name.strip().lower() != "3+3" else None
                specs.append(make_design(name, num, tgt, **_design_kwargs(deescalate, None, None, cutoff_eli, epsilon1, epsilon2, n_earlystop, earlystop_rule, stay_on_one_of_three, None)))
            results = []
            total = len(scenarios) * len(specs)
            for i, sc in enumerate(scenarios, start=1):
                for spec in specs:
                    r = simulate(spec, sc, ntrial=trials, ncohort=ncohort, cohort_size=cohort_size, seed=seed)
                    r["scenario_index"] = i
                    results.append(r)
                    typer.echo(f"[{len(results)}/{total}] scenario {i}, {design_label(r['design'])}: {trials:,} trials in {r['seconds']:.2f} s", err=True)
        except EscalationError as err:
            raise _fail("simulate", str(err)) from None
        path = None
        if report is not None:
            path = write_simulation_report(results, report)
        seconds = time.perf_counter() - t0
        if as_json:
            typer.echo(json.dumps({"results": results, "report": str(path) if path else None, "seconds": round(seconds, 3)}, indent=2))
        else:
            for r in results:
                sel = " ".join(f"{v:5.1f}" for v in r["selection_pct"])
                typer.echo(f"scenario {r['scenario_index']} {design_label(r['design']):<22} selection % by dose: {sel} | none {r['no_mtd_pct']:5.1f} | mean n {r['mean_patients']:5.1f} | DLT rate {r['dlt_rate']:.3f} | stopped for toxicity {r['stopped_early_for_toxicity_pct']:.1f}%")
            if path:
                typer.echo(f"report: {path}")
            typer.echo(f"summary: {len(specs)} design(s) x {len(scenarios)} scenario(s) x {trials:,} trials in {seconds:.1f} s (seed {seed})")
