"""Conformance check of an SDTM AE domain table (``en-clinical-trials sdtm check``).

Rules (each problem names the row - 1 = the first data row, the file's line
2 of a CSV - and the variable):

1. **required**: the required variables (``resources/sdtm_ct.yml``) are
   columns, and no row leaves one empty; DOMAIN is ``AE``.
2. **ct**: a non-empty value of a variable with a codelist is one of its
   values (AEREL: the sponsor's codelist, ``--aerel``; default the project's).
3. **aeseq**: AESEQ is a positive integer, unique per subject (STUDYID + USUBJID).
4. **date**: the date variables (AESTDTC, AEENDTC, AEDTC) are empty or ISO
   8601, complete or partial (YYYY, YYYY-MM, YYYY-MM-DD, with a time).
5. **seriousness**: AESER = Y needs at least one seriousness flag Y (when
   the table has the flags) - an error. A flag Y with AESER = N is a
   *warning*, not an error: SDTMIG 3.3 lets the flags stand for the
   investigator's criteria while AESER is the investigator's overall
   assessment, and the CDISC pilot's own AE table has such rows (AESMIE /
   AESHOSP Y with AESER N, see tests/sdtm/test_check.py); a data manager queries
   them rather than rejecting the table. A flag empty while AESER is given is
   not checked (the flags are permissible variables).
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from .terminology import AeTerminology, default_terminology

__all__ = ["Problem", "check_ae_rows", "read_ae_file", "check_ae_file"]

_ISO8601 = re.compile(
    r"^\d{4}(?:-(?:0[1-9]|1[0-2])(?:-(?:0[1-9]|[12]\d|3[01])"
    r"(?:T(?:[01]\d|2[0-3])(?::[0-5]\d(?::[0-5]\d(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:\d{2})?)?)?)?$"
)


@dataclass
class Problem:
    row: int  # 1-based data row; 0: the table (a missing column)
    variable: str
    rule: str
    message: str
    severity: str = "error"  # or "warning"

    def __str__(self) -> str:
        where = f"row {self.row}" if self.row else "table"
        return f"{self.severity}: {where}, {self.variable}: {self.message} [{self.rule}]"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def check_ae_rows(
    columns: Sequence[str], rows: Iterable[Dict[str, Any]], *, terminology: Optional[AeTerminology] = None, aerel: Optional[Sequence[str]] = None
) -> List[Problem]:
    """Every problem of an AE table given as its columns and rows (dicts)."""
    ct = terminology or default_terminology()
    if aerel is not None:
        ct = ct.with_aerel(aerel)
    problems: List[Problem] = []
    cols = set(columns)
    for var in ct.required:
        if var not in cols:
            problems.append(Problem(0, var, "required", "required variable missing (no such column)"))
    flags = [f for f in ct.seriousness_flags if f in cols]
    seen: Dict[Tuple[str, str, str], int] = {}
    for n, raw in enumerate(rows, 1):
        row = {k: _text(v) for k, v in raw.items()}
        for var in ct.required:
            if var in cols and not row.get(var):
                problems.append(Problem(n, var, "required", "empty value of a required variable"))
        if "DOMAIN" in cols and row.get("DOMAIN") and row["DOMAIN"] != "AE":
            problems.append(Problem(n, "DOMAIN", "required", f"{row['DOMAIN']!r} is not 'AE'"))
        for var, values in ct.codelists.items():
            value = row.get(var, "")
            if var in cols and value and value not in values:
                problems.append(Problem(n, var, "ct", f"{value!r} is not in the {var} codelist ({' / '.join(values)})"))
        if "AESEQ" in cols and row.get("AESEQ"):
            seq = row["AESEQ"]
            if not re.fullmatch(r"[1-9]\d*", seq):
                problems.append(Problem(n, "AESEQ", "aeseq", f"{seq!r} is not a positive integer"))
            elif "USUBJID" in cols:  # (without subjects there is nothing to be unique within)
                key = (row.get("STUDYID", ""), row.get("USUBJID", ""), seq)
                if key in seen:
                    problems.append(Problem(n, "AESEQ", "aeseq", f"AESEQ {seq} of subject {key[1]!r} already on row {seen[key]}"))
                else:
                    seen[key] = n
        for var in ct.date_variables:
            value = row.get(var, "")
            if var in cols and value and not _ISO8601.match(value):
                problems.append(Problem(n, var, "date", f"{value!r} is not an ISO 8601 date (YYYY, YYYY-MM, YYYY-MM-DD[Thh:mm[:ss]])"))
        if "AESER" in cols and flags:
            yes = [f for f in flags if row.get(f) == "Y"]
            if row.get("AESER") == "Y" and not yes:
                problems.append(Problem(n, "AESER", "seriousness", f"AESER is Y but no seriousness flag ({', '.join(flags)}) is Y"))
            elif row.get("AESER") == "N" and yes:
                problems.append(Problem(n, yes[0], "seriousness", f"{', '.join(yes)} Y while AESER is N", severity="warning"))
    return problems


def read_ae_file(path: str) -> Tuple[List[str], List[Dict[str, Any]]]:
    """(columns, rows) of a CSV (or .parquet / .xpt / .sas7bdat via pandas) AE table."""
    lower = str(path).lower()
    if lower.endswith((".parquet", ".xpt", ".sas7bdat")):
        import pandas as pd

        frame = pd.read_parquet(path) if lower.endswith(".parquet") else pd.read_sas(path, encoding="utf-8")
        return list(frame.columns), frame.to_dict("records")
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def check_ae_file(path: str, *, aerel: Optional[Sequence[str]] = None, terminology: Optional[AeTerminology] = None) -> List[Problem]:
    columns, rows = read_ae_file(path)
    return check_ae_rows(columns, rows, aerel=aerel, terminology=terminology)
