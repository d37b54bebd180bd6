"""``en-clinical-trials trial randomise | minimise | allocation-sim``: arm allocation.

A thin layer over :mod:`ct_safety_nlp.trial.allocation` (imported inside each
command). Exit status: 0 done; 1 ``minimise --verify`` found allocations that
do not replay; 2 bad parameters, a bad subject, a bad or missing state file,
or an output that exists (``randomise`` without ``--overwrite``).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import List, Optional

import typer


def _fail(command: str, message: str) -> "typer.Exit":
    typer.echo(f"{command}: error: {message}", err=True)
    return typer.Exit(code=2)


def randomise_command(
    arms: str = typer.Option(..., "--arms", help="Arm names, comma-separated: A,B"),
    ratio: Optional[str] = typer.Option(None, "--ratio", help="Allocation ratio, e.g. 1:1 or 2:1 (default: equal)"),
    blocks: str = typer.Option(..., "--blocks", help="Block sizes: 4 (fixed) or 4,6 (drawn at random per block); multiples of the ratio's sum"),
    strata: Optional[List[str]] = typer.Option(None, "--strata", help="A stratification factor and its levels, e.g. sex=F,M (repeat for more)"),
    n: int = typer.Option(..., "--n", help="Minimum list length per stratum (each stratum's list is completed to a block end)"),
    seed: int = typer.Option(..., "--seed", help="Non-negative integer seed: the seed and the parameters fix the list"),
    output: Path = typer.Option(..., "--output", "-o", help="The list (CSV); its record goes beside it as NAME.meta.json"),
    with_blocks: bool = typer.Option(False, "--with-blocks", help="Add block number and size columns (the unblinded master copy only)"),
    report: Optional[Path] = typer.Option(None, "--report", help="Also write the balance report (HTML) here"),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing list"),
    as_json: bool = typer.Option(False, "--json", help="Print the list's record (meta) as JSON"),
) -> None:
    """Write a reproducible permuted-block randomisation list (stratified, fixed or random block sizes)."""
    from ...trial.allocation import AllocationError, parse_arms, parse_blocks, parse_factors, parse_ratio, permuted_block_list
    from ...trial.allocation.files import meta_path, write_list

    name = "randomise"
    try:
        arm_list = parse_arms(arms)
        ratio_list = parse_ratio(ratio, arm_list)
        sizes = parse_blocks(blocks, ratio_list)
        factors = parse_factors(strata or [], "--strata")
        if n < 1:
            raise AllocationError(f"--n: must be a positive integer, got {n}")
        if seed < 0:
            raise AllocationError(f"--seed: must be a non-negative integer, got {seed}")
    except AllocationError as err:
        raise _fail(name, str(err)) from None
    if not overwrite:
        for path in (output, meta_path(output)):
            if path.exists():
                raise _fail(name, f"{path} exists (pass --overwrite to replace it)")
    lst = permuted_block_list(arm_list, ratio=ratio_list, blocks=sizes, strata=factors, n=n, seed=seed, with_blocks=with_blocks)
    try:
        list_file, meta_file = write_list(lst, output)
    except OSError as err:
        raise _fail(name, f"cannot write {output}: {err}") from None
    meta = lst["meta"]
    if report is not None:
        from ...trial.allocation.report import list_report_page

        list_report_page(lst).write(report)
    if as_json:
        typer.echo(json.dumps({**meta, "list_file": str(list_file), "meta_file": str(meta_file), "report": str(report) if report else None}, indent=2))
        return
    n_strata = len(meta["rows_per_stratum"])
    typer.echo(
        f"randomise: {meta['rows']} rows in {n_strata} strat{'um' if n_strata == 1 else 'a'} "
        f"(>= {n} each), arms {','.join(arm_list)} {':'.join(map(str, ratio_list))}, blocks {','.join(map(str, sizes))}, seed {seed}"
    )
    typer.echo(f"list: {list_file}  sha256 {meta['sha256']}")
    typer.echo(f"record: {meta_file}" + (f"  report: {report}" if report else ""))


def minimise_command(
    state: Path = typer.Option(..., "--state", help="The state file (JSON lines): design + every allocation"),
    init: bool = typer.Option(False, "--init", help="Create the state file with the design given by the options below"),
    arms: Optional[str] = typer.Option(None, "--arms", help="[--init] Arm names, comma-separated"),
    ratio: Optional[str] = typer.Option(None, "--ratio", help="[--init] Allocation ratio, e.g. 1:1 (default) or 2:1"),
    factors: Optional[List[str]] = typer.Option(None, "--factor", help="[--init] A factor and its levels, e.g. sex=F,M (repeat)"),
    weights: Optional[List[str]] = typer.Option(None, "--weight", help="[--init] Factor weights, e.g. site=2 (default 1 each)"),
    method: str = typer.Option("range", "--method", help="[--init] Imbalance measure: range or variance"),
    p: float = typer.Option(0.8, "--p", help="[--init] Probability of the arm that minimises imbalance (1 = deterministic)"),
    seed: Optional[int] = typer.Option(None, "--seed", help="[--init] Seed (default: a random one, recorded in the state file)"),
    subject: Optional[str] = typer.Option(None, "--subject", help='Allocate this subject: "sex=F,site=02"'),
    subject_id: Optional[str] = typer.Option(None, "--id", help="The subject's id; asking again for an allocated id returns its allocation"),
    verify: bool = typer.Option(False, "--verify", help="Check the file's checksum chain and replay every allocation from the seed"),
    report: Optional[Path] = typer.Option(None, "--report", help="Write the balance report (HTML) of the allocations so far"),
    as_json: bool = typer.Option(False, "--json", help="Print results as JSON"),
) -> None:
    """Pocock-Simon minimisation: allocate the next subject and append it to the state file atomically."""
    from ...trial.allocation import AllocationError, allocate, create_state, parse_arms, parse_factors, parse_ratio, parse_subject, parse_weights, read_state, verify_state

    name = "minimise"
    design_options = {"--arms": arms, "--ratio": ratio, "--factor": factors, "--weight": weights, "--seed": seed}
    if not init:
        given = [k for k, v in design_options.items() if v] + (["--method"] if method != "range" else []) + (["--p"] if p != 0.8 else [])
        if given:
            raise _fail(name, f"{', '.join(given)} only with --init: the design is in the state file")
    if not (init or subject or verify or report):
        raise _fail(name, "nothing to do: give --init, --subject, --verify or --report")
    if subject_id is not None and not subject:
        raise _fail(name, "--id needs --subject")
    out = {}
    try:
        if init:
            if not arms or not factors:
                raise AllocationError("--init needs --arms and at least one --factor")
            arm_list = parse_arms(arms)
            factor_map = parse_factors(factors, "--factor")
            if seed is None:
                import secrets

                seed_value = secrets.randbits(63)
            else:
                seed_value = seed
            design = {
                "arms": arm_list,
                "ratio": parse_ratio(ratio, arm_list),
                "factors": factor_map,
                "weights": parse_weights(weights or [], factor_map),
                "method": method,
                "p": p,
                "seed": seed_value,
            }
            header = create_state(state, design)
            out["created"] = str(state)
            if not as_json:
                d = header["design"]
                typer.echo(f"minimise: created {state}: arms {','.join(d['arms'])} {':'.join(map(str, d['ratio']))}, "
                           f"factors {', '.join(d['factors'])}, {d['method']}, p = {d['p']:g}")
        if subject:
            current = read_state(state)
            levels = parse_subject(subject, current["design"]["factors"])
            record, new = allocate(state, levels, subject_id=subject_id)
            out["allocation"] = {**record, "new": new}
            if not as_json:
                who = f"subject {record['id']}" if record.get("id") else "subject"
                what = ", ".join(f"{k}={v}" for k, v in record["subject"].items())
                note = "" if new else " (already allocated; nothing written)"
                typer.echo(f"minimise: {who} #{record['index']} ({what}) -> {record['arm']}{note}")
        if verify:
            result = verify_state(state)
            out["verify"] = result
            if not as_json:
                for problem in result["problems"]:
                    typer.echo(problem, err=True)
                status = "ok" if not result["problems"] else f"{len(result['problems'])} problem(s)"
                typer.echo(f"minimise: verify {state}: {result['allocations']} allocations replayed, {status}")
        if report:
            from ...trial.allocation.report import state_report_page

            state_report_page(read_state(state)).write(report)
            out["report"] = str(report)
            if not as_json:
                typer.echo(f"minimise: report {report}")
    except AllocationError as err:
        raise _fail(name, str(err)) from None
    except OSError as err:
        raise _fail(name, f"{state}: {err}") from None
    if as_json:
        typer.echo(json.dumps(out, indent=2, ensure_ascii=False))
    if verify and out["verify"]["problems"]:
        raise typer.Exit(code=1)


def allocation_sim_command(
    arms: str = typer.Option("A,B", "--arms", help="Arm names, comma-separated"),
    ratio: Optional[str] = typer.Option(None, "--ratio", help="Allocation ratio (default: equal)"),
    factors: List[str] = typer.Option(..., "--factor", help="A factor and its levels, e.g. sex=F,M (repeat); levels equally likely"),
    n: int = typer.Option(120, "--n", help="Subjects per simulated trial"),
    runs: int = typer.Option(1000, "--runs", help="Simulated trials"),
    seed: int = typer.Option(1, "--seed", help="Seed of the simulation"),
    blocks: str = typer.Option("4,6", "--blocks", help="Block sizes for the stratified permuted-block method"),
    p_values: str = typer.Option("0.8,1", "--p", help="Minimisation's p values to compare, comma-separated"),
    method: str = typer.Option("range", "--method", help="Minimisation's imbalance measure: range or variance"),
    weights: Optional[List[str]] = typer.Option(None, "--weight", help="Minimisation factor weights, e.g. site=2"),
    report: Optional[Path] = typer.Option(None, "--report", help="Write the HTML report (table and charts) here"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the full results (JSON) here"),
    as_json: bool = typer.Option(False, "--json", help="Print the full results as JSON"),
) -> None:
    """Simulate many seeded trials: imbalance and predictability of simple, block and minimisation allocation."""
    from ...trial.allocation import AllocationError, parse_arms, parse_blocks, parse_factors, parse_ratio, parse_weights, simulate_balance
    from ...trial.allocation.files import write_atomic

    name = "allocation-sim"
    try:
        arm_list = parse_arms(arms)
        ratio_list = parse_ratio(ratio, arm_list)
        sizes = parse_blocks(blocks, ratio_list)
        factor_map = parse_factors(factors, "--factor")
        weight_map = parse_weights(weights or [], factor_map)
        try:
            ps = [float(x) for x in p_values.split(",")]
        except ValueError:
            raise AllocationError(f"--p: {p_values!r} is not a list of numbers like 0.8,1") from None
    except AllocationError as err:
        raise _fail(name, str(err)) from None
    start = time.monotonic()
    last = [start]
    tty = sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if done == total or now - last[0] >= (0.5 if tty else 10.0):
            last[0] = now
            end = "\n" if (done == total or not tty) else "\r"
            sys.stderr.write(f"allocation-sim: {done}/{total} runs, {now - start:.1f} s{end}")
            sys.stderr.flush()

    try:
        sim = simulate_balance(arms=arm_list, ratio=ratio_list, factors=factor_map, n_subjects=n, n_runs=runs, seed=seed,
                               blocks=sizes, p_values=ps, method=method, weights=weight_map, progress=progress)
    except ValueError as err:
        raise _fail(name, str(err)) from None
    wall = time.monotonic() - start
    sim["meta"]["wall_s"] = round(wall, 2)
    import shlex

    command = "en-clinical-trials " + shlex.join(sys.argv[1:]) if sys.argv[1:3] == ["trial", "allocation-sim"] else ""
    if output is not None:
        write_atomic(output, (json.dumps(sim, indent=2) + "\n").encode("utf-8"))
    if report is not None:
        from ...trial.allocation.report import simulation_report_page

        simulation_report_page(sim, command=command).write(report)
    if as_json:
        typer.echo(json.dumps(sim, indent=2))
        return
    header = f"{'method':<20} {'overall mean/p95/max':>22} {'margin mean/p95/max':>22} {'stratum mean/p95':>17} {'guess %':>8}"
    typer.echo(header)
    for m in sim["methods"]:
        s = m["summary"]
        o, g, st = s["overall"], s["margin_max"], s["stratum_max"]
        typer.echo(
            f"{m['method']:<20} {o['mean']:>8.2f} {o['p95']:>6g} {o['max']:>6g} {g['mean']:>8.2f} {g['p95']:>6g} {g['max']:>6g} "
            f"{st['mean']:>9.2f} {st['p95']:>6g} {100 * s['correct_guess']['mean']:>8.1f}"
        )
    params = sim["parameters"]
    typer.echo(f"allocation-sim: {runs} runs x {n} subjects, {params['n_strata']} strata, seed {seed}, {wall:.1f} s"
               + (f"; report {report}" if report else "") + (f"; results {output}" if output else ""))


def register(app: typer.Typer) -> None:
    app.command("randomise")(randomise_command)
    app.command("minimise")(minimise_command)
    app.command("allocation-sim")(allocation_sim_command)
