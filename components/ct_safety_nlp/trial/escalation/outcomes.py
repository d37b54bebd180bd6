"""The two plain input conventions for cohort outcomes.

1. The outcome string of the R package ``escalation`` (Brock 2019, *trialr:
   Bayesian Clinical Trial Designs in R and Stan*, arXiv:1907.00161;
   ``escalation::parse_phase1_outcomes``): cohorts separated by spaces, each a
   dose level (1, 2, ...) followed by one letter per patient, ``N`` for no
   dose-limiting toxicity and ``T`` for a DLT. ``"1NNN 2NTT"`` is three
   patients at dose 1 without DLT, then three at dose 2 of whom two had a DLT.
   The empty string is a trial that has not started.
2. A CSV with one row per patient: ``cohort``, ``dose`` (or ``dose_level``),
   ``subject``, ``dlt`` (1/0, true/false, yes/no, y/n, T/N). Rows of one
   cohort share one dose level; cohorts are taken in the order of their first row.

Both return the same plain structure, a list of cohorts in order::

    {"cohort": 1, "label": "1", "dose": 2, "outcomes": [0, 1, 0],
     "subjects": ["S01", "S02", "S03"] or None, "source": "cohorts.csv:2-4"}
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Dict, List, Optional, Union

from ._common import EscalationError

_COHORT_RE = re.compile(r"(\d+)([A-Za-z]*)")


def parse_outcomes(text: str, num_doses: Optional[int] = None) -> List[Dict]:
    """Parse an ``escalation``-style outcome string into cohorts.

    Raises EscalationError naming the cohort, its character position and the
    problem (a letter other than N / T, a missing dose level, dose 0, a dose
    above ``num_doses`` when given).
    """
    if not isinstance(text, str):
        raise EscalationError(f"outcome string must be text, got {type(text).__name__}")
    cohorts: List[Dict] = []
    for match in re.finditer(r"\S+", text):
        token, start = match.group(0), match.start()
        where = f"outcome string {text!r}, cohort {len(cohorts) + 1} {token!r} at character {start + 1}"
        m = _COHORT_RE.fullmatch(token)
        if not m:
            if token[0].isdigit():
                bad = next(ch for ch in token if not (ch.isdigit() or ch.isalpha()))
                raise EscalationError(f"{where}: unexpected character {bad!r} (a cohort is a dose level followed by N/T letters)")
            raise EscalationError(f"{where}: a cohort must start with its dose level (e.g. '2NNT')")
        dose, letters = int(m.group(1)), m.group(2)
        if not letters:
            raise EscalationError(f"{where}: no patients after dose level {dose} (one N or T per patient)")
        for i, ch in enumerate(letters):
            if ch not in "NT":
                pos = start + len(m.group(1)) + i + 1
                raise EscalationError(f"{where}: {ch!r} at character {pos} is not N (no DLT) or T (DLT)")
        if dose < 1:
            raise EscalationError(f"{where}: dose levels start at 1, got {dose}")
        if num_doses is not None and dose > num_doses:
            raise EscalationError(f"{where}: dose level {dose} is out of range (the design has {num_doses} doses)")
        cohorts.append(
            {
                "cohort": len(cohorts) + 1,
                "label": str(len(cohorts) + 1),
                "dose": dose,
                "outcomes": [1 if ch == "T" else 0 for ch in letters],
                "subjects": None,
                "source": f"outcomes:{start + 1}-{start + len(token)}",
            }
        )
    return cohorts


def format_outcomes(cohorts: List[Dict]) -> str:
    """The outcome string of cohorts (inverse of :func:`parse_outcomes`)."""
    return " ".join(f"{c['dose']}" + "".join("T" if o else "N" for o in c["outcomes"]) for c in cohorts)


_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"0", "false", "no", "n"}
_COLUMNS = {"cohort": ("cohort",), "dose": ("dose", "dose_level", "doselevel"), "subject": ("subject", "subject_id", "usubjid"), "dlt": ("dlt",)}


def read_cohort_csv(path: Union[str, Path], num_doses: Optional[int] = None) -> List[Dict]:
    """Read a cohort CSV (cohort, dose, subject, dlt); errors name FILE:LINE."""
    path = Path(path)
    if not path.exists():
        raise EscalationError(f"{path}: cohort file not found")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise EscalationError(f"{path}: not UTF-8 text ({err})") from None
    reader = csv.reader(text.splitlines())
    try:
        header = next(reader)
    except StopIteration:
        raise EscalationError(f"{path}:1: the cohort file is empty (expected a header: cohort,dose,subject,dlt)") from None
    names = [h.strip().lower() for h in header]
    index = {}
    for key, aliases in _COLUMNS.items():
        found = [i for i, h in enumerate(names) if h in aliases]
        if not found:
            raise EscalationError(f"{path}:1: missing column '{key}' (header: {', '.join(header)}; need cohort, dose, subject, dlt)")
        index[key] = found[0]
    by_label: Dict[str, Dict] = {}
    seen_subjects: Dict[str, int] = {}
    for line_no, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(header):
            raise EscalationError(f"{path}:{line_no}: {len(row)} fields, the header has {len(header)}")
        cell = {k: row[i].strip() for k, i in index.items()}
        for key, value in cell.items():
            if not value:
                raise EscalationError(f"{path}:{line_no}: empty '{key}'")
        try:
            dose = int(cell["dose"])
        except ValueError:
            raise EscalationError(f"{path}:{line_no}: dose level {cell['dose']!r} is not an integer") from None
        if dose < 1:
            raise EscalationError(f"{path}:{line_no}: dose levels start at 1, got {dose}")
        if num_doses is not None and dose > num_doses:
            raise EscalationError(f"{path}:{line_no}: dose level {dose} is out of range (the design has {num_doses} doses)")
        flag = cell["dlt"].lower()
        if flag in _TRUE:
            dlt = 1
        elif flag in _FALSE:
            dlt = 0
        else:
            raise EscalationError(f"{path}:{line_no}: dlt {cell['dlt']!r} is not one of 1/0, true/false, yes/no, y/n, T/N")
        subject = cell["subject"]
        if subject in seen_subjects:
            raise EscalationError(f"{path}:{line_no}: subject {subject!r} already listed on line {seen_subjects[subject]}")
        seen_subjects[subject] = line_no
        label = cell["cohort"]
        c = by_label.get(label)
        if c is None:
            c = by_label[label] = {"label": label, "dose": dose, "outcomes": [], "subjects": [], "first": line_no, "last": line_no}
        elif c["dose"] != dose:
            raise EscalationError(f"{path}:{line_no}: cohort {label!r} is at dose {c['dose']} on line {c['first']} but at dose {dose} here")
        c["outcomes"].append(dlt)
        c["subjects"].append(subject)
        c["last"] = line_no
    if not by_label:
        raise EscalationError(f"{path}:2: no patient rows after the header")
    cohorts = []
    for k, c in enumerate(by_label.values(), start=1):
        cohorts.append(
            {
                "cohort": k,
                "label": c["label"],
                "dose": c["dose"],
                "outcomes": c["outcomes"],
                "subjects": c["subjects"],
                "source": f"{path.name}:{c['first']}-{c['last']}" if c["first"] != c["last"] else f"{path.name}:{c['first']}",
            }
        )
    return cohorts
