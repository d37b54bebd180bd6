"""``en-clinical-trials kb``: look up, extend and check the CTCAE knowledge base
of a pipeline without writing Python.

Which pipeline (every command):

1. ``--model NAME_OR_DIR``: that pipeline (its ``ct_reasoner`` only is loaded);
2. else the installed ``en_clinical_trials`` package, if there is one (again
   only its ``ct_reasoner``);
3. else a blank English pipeline + ``ct_reasoner`` built from the workbooks
   (``--ctcae``, ``--ctcae-v6``, ``--synonyms``; default: the project's
   ``assets/``), with the "contained" fallback (no sentence encoder needed).

``--ctcae-version 5.0|6.0`` picks the knowledge base (the reasoner's
``ctcae_version``); ``--json`` prints JSON instead of the human text. The
logic lives in :mod:`ct_safety_nlp.kb.search` and :mod:`ct_safety_nlp.kb.manage`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional

import typer

app = typer.Typer(name="kb", help="The CTCAE knowledge base (v5.0 and v6.0): search, show, map v5 -> v6, validate, extend, diff.", no_args_is_help=True)

_MODEL = typer.Option(None, "--model", "-m", help="Pipeline package or directory (default: installed en_clinical_trials, else built from the workbooks).")
_VERSION = typer.Option("5.0", "--ctcae-version", "-v", help="CTCAE version: 5.0 or 6.0.")
_JSON = typer.Option(False, "--json", help="Print JSON.")
_CTCAE = typer.Option(Path("assets/ctcae/CTCAE_v5.0.xlsx"), "--ctcae", help="CTCAE v5.0 workbook (pipeline built without --model).")
_CTCAE_V6 = typer.Option(Path("assets/ctcae/CTCAE_v6.0.xlsx"), "--ctcae-v6", help="CTCAE v6.0 workbook (pipeline built without --model).")
_SYNONYMS = typer.Option(Path("assets/ctcae_synonyms.json"), "--synonyms", help="Synonym table (pipeline built without --model).")


def _fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _pipe_names(model: str) -> Optional[List[str]]:
    """The pipeline's component names from its config.cfg (a directory or an installed package)."""
    from spacy.util import load_config

    path = Path(model)
    if not path.is_dir():
        import importlib.util

        spec = importlib.util.find_spec(model)
        if spec is None or spec.origin is None:
            return None
        package = Path(spec.origin).parent
        found = sorted(package.glob("*/config.cfg"))
        path = found[0].parent if found else package
    cfg = path / "config.cfg"
    if not cfg.is_file():
        return None
    return list(load_config(cfg, interpolate=False)["nlp"]["pipeline"])


def load_kb_pipeline(model: Optional[str], version: str, ctcae: Path, ctcae_v6: Path, synonyms: Path):
    """(nlp, description) of the pipeline the kb commands use (module docstring)."""
    import importlib.util

    import spacy

    if version not in ("5.0", "6.0"):
        _fail(f"--ctcae-version must be 5.0 or 6.0, got {version!r}")
    if model is None and importlib.util.find_spec("en_clinical_trials") is not None:
        model = "en_clinical_trials"
    if model is not None:
        names = _pipe_names(model)
        exclude = [n for n in (names or []) if n != "ct_reasoner"]
        try:
            nlp = spacy.load(model, exclude=exclude, config={"components": {"ct_reasoner": {"ctcae_version": version}}})
        except (OSError, ValueError) as err:
            _fail(f"cannot load pipeline {model!r} with CTCAE v{version}: {err}")
        if "ct_reasoner" not in nlp.pipe_names:
            _fail(f"pipeline {model!r} has no ct_reasoner component (pipes: {nlp.pipe_names})")
        return nlp, model
    from ..evaluation.pipelines import rules_pipeline

    if not ctcae.is_file():
        _fail(f"no pipeline: en_clinical_trials is not installed, no --model given and the CTCAE workbook {ctcae} is missing")
    v6 = ctcae_v6 if ctcae_v6.is_file() else None
    if version == "6.0" and v6 is None:
        _fail(f"--ctcae-version 6.0 needs the CTCAE v6.0 workbook: {ctcae_v6} not found (--ctcae-v6)")
    try:
        nlp = rules_pipeline(ctcae, synonyms, None, ctcae_v6=v6, ctcae_version=version, fallback="contained")
    except (OSError, ValueError) as err:
        _fail(str(err))
    return nlp, f"blank:en + ct_reasoner from {ctcae}" + (f" and {v6}" if v6 else "")


def _reasoner(nlp):
    return nlp.get_pipe("ct_reasoner")


def _mapping(nlp):
    from ..kb.mapping import CtcaeMapping

    data = _reasoner(nlp).stored.mapping
    return CtcaeMapping(data) if data else None


def _emit(data: Any, as_json: bool, human) -> None:
    if as_json:
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        human(data)


# ---------------------------------------------------------------- search
@app.command("search")
def search_command(
    text: str = typer.Argument(..., help="Text to look up, e.g. 'low platelets'."),
    limit: int = typer.Option(5, "--limit", "-n", min=1, max=50, help="Candidates to show."),
    model: Optional[str] = _MODEL, ctcae_version: str = _VERSION, as_json: bool = _JSON,
    ctcae: Path = _CTCAE, ctcae_v6: Path = _CTCAE_V6, synonyms: Path = _SYNONYMS,
) -> None:
    """What the pipeline maps TEXT to, with the top candidates (term, MedDRA code, SOC, score, method)."""
    from ..kb.search import search

    nlp, _ = load_kb_pipeline(model, ctcae_version, ctcae, ctcae_v6, synonyms)
    kb = _reasoner(nlp).kb
    try:
        results = search(kb, text, limit=limit)
    except ValueError as err:
        _fail(str(err))

    def human(rows):
        if not rows:
            typer.echo(f"'{text}': no CTCAE v{kb.version} term found")
            return
        typer.echo(f"'{text}' -> {rows[0]['term']} (CTCAE v{kb.version})")
        for i, r in enumerate(rows, 1):
            typer.echo(f"  {i}. {r['term']:<40} {r['meddra_code'] or '':>9}  {r['soc'] or '':<45} {r['method']:<9} {r['score']:.2f}")

    _emit(results, as_json, human)


# ------------------------------------------------------------------ show
@app.command("show")
def show_command(
    term: str = typer.Argument(..., help="A CTCAE term (any case), e.g. 'Thrombocytopenia'."),
    model: Optional[str] = _MODEL, ctcae_version: str = _VERSION, as_json: bool = _JSON,
    ctcae: Path = _CTCAE, ctcae_v6: Path = _CTCAE_V6, synonyms: Path = _SYNONYMS,
) -> None:
    """A term's definition, grade criteria, navigational note, synonyms, lab rules (and v6 fate of a v5 term)."""
    from ..kb.manage import term_details
    from ..kb.search import search

    nlp, _ = load_kb_pipeline(model, ctcae_version, ctcae, ctcae_v6, synonyms)
    reasoner = _reasoner(nlp)
    details = term_details(reasoner.kb, term, lab_rules=reasoner.tables.lab_rules, mapping=_mapping(nlp))
    if details is None:
        hints = [r["term"] for r in search(reasoner.kb, term, limit=3)]
        _fail(f"'{term}' is not a CTCAE v{ctcae_version} term" + (f"; did you mean: {', '.join(hints)}?" if hints else ""))

    def human(d):
        typer.echo(f"{d['term']}  (CTCAE v{d['ctcae_version']}; MedDRA {d['meddra_code']}; {d['soc']})")
        if d["definition"]:
            typer.echo(f"Definition: {d['definition']}")
        for g in ("1", "2", "3", "4", "5"):
            typer.echo(f"  Grade {g}: {d['grades'].get(g) or '-'}")
        if d["note"]:
            typer.echo(f"Navigational note: {d['note']}")
        typer.echo("Synonyms: " + (", ".join(d["synonyms"]) or "none"))
        for rule in d["lab_rules"]:
            cuts = "; ".join(f"G{c['grade']} {c['op']} {c['threshold']}" for c in rule["cuts"])
            typer.echo(f"Lab rule {rule['rule']} ({rule['unit']}): {cuts}")
        if "v6" in d:
            typer.echo(f"In v6.0: {d['v6']['kind']} -> {', '.join(d['v6']['v6_terms'])}")

    _emit(details, as_json, human)


# ------------------------------------------------------------------- map
@app.command("map")
def map_command(
    file: Path = typer.Argument(..., help="CSV (header with term/ctcae_term, grade) or JSONL of v5.0 AEs."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the converted records as JSONL here."),
    model: Optional[str] = _MODEL, as_json: bool = _JSON,
    ctcae: Path = _CTCAE, ctcae_v6: Path = _CTCAE_V6, synonyms: Path = _SYNONYMS,
) -> None:
    """Convert AEs (term + grade) from CTCAE v5.0 to v6.0: kept / clarified / renamed / merged / deleted,
    and whether the grade's text changed. Exit 1 when a row cannot be converted (it is still listed)."""
    from ..kb.manage import convert_records, read_ae_table

    nlp, _ = load_kb_pipeline(model, "5.0", ctcae, ctcae_v6, synonyms)
    mapping = _mapping(nlp)
    if mapping is None:
        _fail("the pipeline has no v5 -> v6 mapping (initialize ct_reasoner with kb_v6 and mapping)")
    try:
        records = convert_records(read_ae_table(file), mapping, source=str(file))
    except (OSError, ValueError) as err:
        _fail(str(err))
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf8")

    def human(rows):
        for r in rows:
            if "error" in r:
                typer.echo(f"{r['error']}")
                continue
            grade = f" G{r['v5_grade']}" if r["v5_grade"] is not None else ""
            v6_grade = f" G{r['v6_grade']}" if r["v6_grade"] is not None else ""
            changed = "" if r["grade_text_changed"] is None else ("; grade text changed" if r["grade_text_changed"] else "; grade text unchanged")
            note = f"; {r['note']}" if r["note"] else ""
            typer.echo(f"{file}:{r['line']}: {r['v5_term']}{grade} -> {r['v6_term']}{v6_grade} [{r['kind']}{changed}{note}]")

    _emit(records, as_json, human)
    if any("error" in r for r in records):
        raise typer.Exit(1)


# ----------------------------------------------------- validate-protocol
@app.command("validate-protocol")
def validate_protocol_command(
    file: Path = typer.Argument(..., help="Protocol rules file (.yml/.yaml/.json)."),
    model: Optional[str] = _MODEL, ctcae_version: Optional[str] = typer.Option(None, "--ctcae-version", "-v", help="Version to check against (default: the protocol's ctcae_version, else 5.0)."),
    as_json: bool = _JSON, ctcae: Path = _CTCAE, ctcae_v6: Path = _CTCAE_V6, synonyms: Path = _SYNONYMS,
) -> None:
    """Check a protocol file: its schema, and that every term it names is a term of its CTCAE version."""
    from ..protocol import ProtocolError, check_protocol_terms, check_protocol_version, load_protocol, protocol_terms

    try:
        rules = load_protocol(file)
    except ProtocolError as err:
        _fail(str(err))
    version = ctcae_version or rules.get("ctcae_version") or "5.0"
    nlp, _ = load_kb_pipeline(model, version, ctcae, ctcae_v6, synonyms)
    kb = _reasoner(nlp).kb
    try:
        check_protocol_version(rules, version, source=str(file))
        check_protocol_terms(rules, set(kb.terms), version=kb.version, source=str(file))
    except ProtocolError as err:
        _fail(str(err))
    terms = protocol_terms(rules)
    result = {"file": str(file), "ctcae_version": kb.version, "valid": True, "terms": terms, "dlt_rules": len(rules.get("dlt") or []),
              "dose_modifications": len(rules.get("dose_modifications") or [])}
    _emit(result, as_json, lambda r: typer.echo(
        f"{file}: valid; {len(terms)} terms, all CTCAE v{kb.version} terms; {r['dlt_rules']} DLT rules, {r['dose_modifications']} dose modifications"))


# ---------------------------------------------------------- add-synonyms
@app.command("add-synonyms")
def add_synonyms_command(
    table: Path = typer.Argument(..., help="CSV/TSV with the header 'synonym,term'."),
    output: Path = typer.Option(..., "--output", "-o", help="Directory for the copy of the pipeline with the synonyms merged."),
    model: Optional[str] = _MODEL, ctcae_version: str = _VERSION, as_json: bool = _JSON,
    ctcae: Path = _CTCAE, ctcae_v6: Path = _CTCAE_V6, synonyms: Path = _SYNONYMS,
) -> None:
    """Save a copy of the pipeline with a synonym table merged into the knowledge base of --ctcae-version.
    Unknown target terms, duplicates and conflicts are errors naming FILE:LINE (nothing is written)."""
    from ..kb import CtcaeKB
    from ..kb.manage import merge_synonyms, read_synonym_table

    try:
        rows = read_synonym_table(table)
    except (OSError, ValueError) as err:
        _fail(str(err))
    nlp, source = load_kb_pipeline(model, ctcae_version, ctcae, ctcae_v6, synonyms)
    reasoner = _reasoner(nlp)
    kb = reasoner.kb
    merged, problems = merge_synonyms(kb, rows, source=str(table))
    if problems:
        for p in problems:
            typer.echo(f"error: {p}", err=True)
        raise typer.Exit(1)
    data = kb.to_dict()
    data["synonyms"] = merged
    data.pop("embeddings", None)  # the entries changed: embedded again below (or on first use)
    new_kb = CtcaeKB.from_dict(data, encoder=reasoner.encoder)
    new_kb.prepare()
    if ctcae_version == "6.0":
        reasoner.stored.kb_v6 = new_kb
    else:
        reasoner.stored.kb = new_kb
    reasoner.tables = reasoner.stored.for_version(reasoner.ctcae_version, reasoner.name)
    output.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(output)
    added = len(merged) - len(kb.synonyms)
    result = {"output": str(output), "source": source, "ctcae_version": ctcae_version, "added": added, "synonyms": len(merged)}
    _emit(result, as_json, lambda r: typer.echo(f"{output}: {added} synonyms added to CTCAE v{ctcae_version} ({len(merged)} in all); pipeline from {source}"))


# ------------------------------------------------------------------ diff
@app.command("diff")
def diff_command(
    other: Optional[str] = typer.Option(None, "--other", help="A second pipeline: compare its knowledge base with --model's (same --ctcae-version)."),
    model: Optional[str] = _MODEL, ctcae_version: str = _VERSION, as_json: bool = _JSON,
    ctcae: Path = _CTCAE, ctcae_v6: Path = _CTCAE_V6, synonyms: Path = _SYNONYMS,
) -> None:
    """What differs between the pipeline's CTCAE v5.0 and v6.0 (terms, grade texts, mapping, lab thresholds),
    or between two pipelines (--other)."""
    from ..kb.manage import diff_kbs, diff_versions

    nlp, _ = load_kb_pipeline(model, ctcae_version if other else "5.0", ctcae, ctcae_v6, synonyms)
    reasoner = _reasoner(nlp)
    if other:
        nlp_b, _ = load_kb_pipeline(other, ctcae_version, ctcae, ctcae_v6, synonyms)
        rb = _reasoner(nlp_b)
        result = diff_kbs(reasoner.kb, rb.kb, reasoner.tables.lab_rules, rb.tables.lab_rules)
    else:
        stored = reasoner.stored
        if stored.kb_v6 is None:
            _fail("the pipeline has CTCAE v5.0 only (no v6.0 tables to compare)")
        result = diff_versions(stored.kb, stored.kb_v6, _mapping(nlp), stored.lab_rules, stored.lab_rules_v6)

    def human(d):
        typer.echo(f"CTCAE v{d['from']} -> v{d['to']}")
        if "terms" in d:
            typer.echo(f"terms: {d['terms']['from']} -> {d['terms']['to']}")
        typer.echo(f"only in v{d['from']}: {len(d['only_in_from'])}; only in v{d['to']}: {len(d['only_in_to'])}")
        if "grade_text_changed" in d:
            typer.echo(f"terms in both whose grade text changed: {len(d['grade_text_changed'])}")
        if "mapping" in d:
            typer.echo("mapping: " + ", ".join(f"{k} {v['count']}" for k, v in d["mapping"].items()))
            for t, targets in list(d["renamed_or_merged"].items())[:20]:
                typer.echo(f"  {t} -> {', '.join(targets)}")
        for key in ("synonyms_only_in_from", "synonyms_only_in_to", "synonyms_changed"):
            if key in d:
                typer.echo(f"{key.replace('_', ' ')}: {len(d[key])}")
        if "lab_rules" in d:
            labs = d["lab_rules"]
            typer.echo(f"lab rules: {len(labs['changed'])} changed, {len(labs['only_in_from'])} only in v{d['from']}, {len(labs['only_in_to'])} only in v{d['to']}")
            for key, ch in labs["changed"].items():
                a = "; ".join(f"G{g} {op} {t}" for g, op, t in ch["from"]["cuts"])
                b = "; ".join(f"G{g} {op} {t}" for g, op, t in ch["to"]["cuts"])
                typer.echo(f"  {key}: {ch['from']['term']} [{a}] -> {ch['to']['term']} [{b}]")

    _emit(result, as_json, human)

