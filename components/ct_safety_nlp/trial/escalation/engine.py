"""Run a design over the cohorts observed so far: one decision per cohort, each
with its evidence, and the MTD once the trial stops.

``make_design`` validates a design's parameters once (and pre-computes its
boundary / decision table); ``escalate`` replays the cohorts in order. The
replay is strict where a committee would be: a dose level out of range, a
cohort at a dose the design has eliminated, a cohort after the trial stopped
are errors naming the cohort and its source. A cohort given at another dose
than the one recommended is allowed (committees may overrule) and noted in the
evidence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

from ._common import EscalationError, check_num_doses, check_target, counts_table, decision_record
from .boin import boin_boundaries, boin_decide, boin_select_mtd
from .mtpi2 import mtpi2_decide, mtpi2_decision_table, mtpi2_select_mtd
from .three_plus_three import three_plus_three

DESIGNS = ("3+3", "boin", "mtpi2")
_ALIASES = {"3+3": "3+3", "3plus3": "3+3", "boin": "boin", "mtpi2": "mtpi2", "mtpi-2": "mtpi2"}
_EARLYSTOP_RULES = ("stay", "any")


@dataclass(frozen=True)
class Design:
    """A validated design: its name, number of doses, target and parameters, plus
    the pre-computed table the decisions read (BOIN boundaries, mTPI-2 table)."""

    name: str
    num_doses: int
    target: Optional[float]
    params: Dict = field(default_factory=dict)
    table: Optional[Dict] = None

    def describe(self) -> Dict:
        out = {"design": self.name, "num_doses": self.num_doses}
        if self.target is not None:
            out["target"] = self.target
        out.update(self.params)
        if self.name == "boin":
            out["lambda_e"] = round(self.table["lambda_e"], 4)
            out["lambda_d"] = round(self.table["lambda_d"], 4)
        return out


def design_name(name: str) -> str:
    key = str(name).strip().lower()
    if key not in _ALIASES:
        raise EscalationError(f"unknown design {name!r} (choose one of: {', '.join(DESIGNS)})")
    return _ALIASES[key]


def make_design(
    name: str,
    num_doses: int,
    target: Optional[float] = None,
    *,
    deescalate: bool = False,
    p_saf: Optional[float] = None,
    p_tox: Optional[float] = None,
    cutoff_eli: float = 0.95,
    epsilon1: float = 0.05,
    epsilon2: float = 0.05,
    n_earlystop: Optional[int] = None,
    earlystop_rule: str = "stay",
    stay_on_one_of_three: bool = False,
    max_patients: Optional[int] = None,
    table_max_n: int = 30,
) -> Design:
    """Validate parameters and build a :class:`Design`.

    3+3: ``deescalate`` (Korn et al. 1994 variant). BOIN: ``p_saf``, ``p_tox``,
    ``cutoff_eli``, ``stay_on_one_of_three``. mTPI-2: ``epsilon1``, ``epsilon2``,
    ``cutoff_eli`` (its exclusion cut-off). Both model-assisted designs:
    ``n_earlystop`` / ``earlystop_rule`` ("stay": stop when the current dose has
    n_earlystop patients and the decision is to stay, BOIN >= 2.7; "any": stop at
    n_earlystop whatever the decision) and ``max_patients`` (the trial stops and
    selects the MTD once this many patients are treated).
    """
    name = design_name(name)
    num_doses = check_num_doses(num_doses)
    if n_earlystop is not None and (isinstance(n_earlystop, bool) or int(n_earlystop) != n_earlystop or n_earlystop < 1):
        raise EscalationError(f"n_earlystop must be a positive integer, got {n_earlystop!r}")
    if earlystop_rule not in _EARLYSTOP_RULES:
        raise EscalationError(f"earlystop_rule must be one of {_EARLYSTOP_RULES}, got {earlystop_rule!r}")
    if max_patients is not None and (isinstance(max_patients, bool) or int(max_patients) != max_patients or max_patients < 1):
        raise EscalationError(f"max_patients must be a positive integer, got {max_patients!r}")
    if not 0.5 <= float(cutoff_eli) < 1.0:
        raise EscalationError(f"the elimination cut-off must lie in [0.5, 1), got {cutoff_eli!r}")
    if name == "3+3":
        if target is not None:
            check_target(target)
        return Design("3+3", num_doses, None if target is None else float(target), {"deescalate": bool(deescalate)})
    if target is None:
        raise EscalationError(f"the {name} design needs a target DLT probability (--target)")
    phi = check_target(target)
    common = {"cutoff_eli": float(cutoff_eli), "n_earlystop": n_earlystop, "earlystop_rule": earlystop_rule, "max_patients": max_patients}
    size = max(table_max_n, n_earlystop or 0)
    if name == "boin":
        table = boin_boundaries(phi, size, p_saf=p_saf, p_tox=p_tox, cutoff_eli=cutoff_eli)
        params = {"p_saf": round(table["p_saf"], 6), "p_tox": round(table["p_tox"], 6), "stay_on_one_of_three": bool(stay_on_one_of_three), **common}
        return Design("boin", num_doses, phi, params, table)
    table = mtpi2_decision_table(phi, size, epsilon1=epsilon1, epsilon2=epsilon2, exclusion_cutoff=cutoff_eli)
    return Design("mtpi2", num_doses, phi, {"epsilon1": epsilon1, "epsilon2": epsilon2, **common}, table)


def select_mtd(design: Design, n: List[int], y: List[int]) -> Dict:
    """The design's final MTD selection from counts per dose."""
    if design.name == "boin":
        return boin_select_mtd(n, y, design.target, cutoff_eli=design.params["cutoff_eli"])
    if design.name == "mtpi2":
        return mtpi2_select_mtd(n, y, design.target, exclusion_cutoff=design.params["cutoff_eli"])
    # 3+3 stopped by the user: the highest dose that cleared the 3+3 rule (0/3 or <= 1/6)
    # below the first dose with >= 2 DLTs
    cleared = None
    for i in range(design.num_doses):
        if y[i] >= 2:
            break
        if (n[i] == 3 and y[i] == 0) or (n[i] == 6 and y[i] <= 1):
            cleared = i + 1
    rule = f"dose {cleared} is the highest dose that cleared the 3+3 rule (0/3 or <= 1/6 DLTs)" if cleared else "no dose cleared the 3+3 rule (0/3 or <= 1/6 DLTs)"
    return {"mtd": cleared, "estimates": [None] * design.num_doses, "eliminated_from": None, "rule": rule}


def _model_assisted_step(design: Design, n: List[int], y: List[int], dose: int, eliminated_from: Optional[int]) -> Dict:
    next_elim = eliminated_from is not None and dose + 1 >= eliminated_from
    if design.name == "boin":
        step = boin_decide(n[dose - 1], y[dose - 1], dose, design.num_doses, design.table, next_eliminated=next_elim, stay_on_one_of_three=design.params["stay_on_one_of_three"])
    else:
        step = mtpi2_decide(n[dose - 1], y[dose - 1], dose, design.num_doses, design.table, next_excluded=next_elim)
    return step


def escalate(cohorts: List[Dict], design: Design, *, final: bool = False) -> Dict:
    """Replay ``cohorts`` (see :mod:`.outcomes`) under ``design``.

    Returns ``{"design": {...}, "decisions": [...], "mtd": int|None,
    "stopped": bool, "mtd_evidence": {...}|None}``; each decision has ``cohort``,
    ``dose``, ``n``, ``dlt`` (that cohort's patients and DLTs), ``decision``
    (escalate / stay / de-escalate / stop), ``next_dose`` (None when the trial
    stops) and ``evidence`` (counts per dose, the boundary used, the rule that
    fired, notes). ``final=True`` ends the trial after the last cohort and
    selects the MTD (the design's own final rule).
    """
    num = design.num_doses
    n, y = [0] * num, [0] * num
    decisions: List[Dict] = []
    eliminated_from: Optional[int] = None
    eliminated_by: Optional[str] = None
    stopped_at: Optional[Dict] = None
    expected: Optional[int] = 1
    mtd_info: Optional[Dict] = None
    for c in cohorts:
        where = f"cohort {c['cohort']} (dose {c['dose']}, {c.get('source', 'input')})"
        if not c["outcomes"]:
            raise EscalationError(f"{where}: no evaluable patients")
        if stopped_at is not None:
            raise EscalationError(f"{where} comes after the trial stopped at cohort {stopped_at['cohort']}: {stopped_at['evidence']['rule']}")
        if not 1 <= c["dose"] <= num:
            raise EscalationError(f"{where}: dose level {c['dose']} is out of range (the design has {num} doses)")
        if eliminated_from is not None and c["dose"] >= eliminated_from:
            raise EscalationError(f"{where}: dose {c['dose']} was eliminated ({eliminated_by}); no cohort may be treated at doses >= {eliminated_from}")
        notes = []
        if expected is not None and c["dose"] != expected:
            notes.append(f"given at dose {c['dose']}; the design had recommended dose {expected}")
        d = c["dose"]
        n[d - 1] += len(c["outcomes"])
        y[d - 1] += sum(c["outcomes"])
        evidence: Dict = {"design": design.name, "at_dose": {"dose": d, "n": n[d - 1], "dlt": y[d - 1]}, "counts": counts_table(n, y)}
        if design.name == "3+3":
            step = three_plus_three(n, y, d, num, deescalate=design.params["deescalate"])
            evidence["rule"] = step["rule"]
            if step["continue"]:
                nxt = step["next_dose"]
                decision = "escalate" if nxt > d else ("de-escalate" if nxt < d else "stay")
            else:
                decision, nxt = "stop", None
                mtd_info = {"mtd": step["next_dose"], "rule": step["rule"]}
        else:
            step = _model_assisted_step(design, n, y, d, eliminated_from)
            evidence["rule"] = step["rule"]
            evidence["boundary"] = step["boundary"]
            if step["eliminate"]:
                if eliminated_from is None or d < eliminated_from:
                    eliminated_from, eliminated_by = d, f"after cohort {c['cohort']}: {step['rule']}"
            action = step["action"]
            nxt = d + (1 if action == "escalate" else -1 if action == "de-escalate" else 0)
            decision = action
            stop_why = None
            if step["eliminate"] and d == 1:
                stop_why = "dose 1 is eliminated: stop, no MTD"
                mtd_info = {"mtd": None, "rule": stop_why}
            else:
                ne, rule = design.params["n_earlystop"], design.params["earlystop_rule"]
                if design.params["max_patients"] is not None and sum(n) >= design.params["max_patients"]:
                    stop_why = f"{sum(n)} patients treated, the maximum is {design.params['max_patients']}: stop"
                elif ne is not None and n[d - 1] >= ne and (rule == "any" or action == "stay"):
                    stop_why = f"{n[d - 1]} patients at dose {d} >= n_earlystop {ne}" + (" and the decision is to stay" if rule == "stay" else "") + ": stop"
                if stop_why:
                    sel = select_mtd(design, n, y)
                    mtd_info = {"mtd": sel["mtd"], "rule": sel["rule"], "estimates": sel["estimates"], "eliminated_from": sel["eliminated_from"]}
            if stop_why:
                evidence["rule"] += f"; {stop_why}"
                decision, nxt = "stop", None
            evidence["eliminated_from"] = eliminated_from
        if notes:
            evidence["notes"] = notes
        for key in ("subjects", "not_evaluable", "dlt_evidence", "label"):
            if c.get(key) is not None:
                evidence[key] = c[key]
        evidence["source"] = c.get("source")
        record = decision_record(c, decision, nxt, evidence)
        decisions.append(record)
        expected = nxt
        if decision == "stop":
            stopped_at = record
    if stopped_at is None and final and decisions:
        sel = select_mtd(design, n, y)
        last = decisions[-1]
        last["evidence"]["rule"] += "; the trial ends here (final): stop and select the MTD"
        last["decision"], last["next_dose"] = "stop", None
        mtd_info = {"mtd": sel["mtd"], "rule": sel["rule"], "estimates": sel["estimates"], "eliminated_from": sel["eliminated_from"]}
        stopped_at = last
    return {
        "design": design.describe(),
        "decisions": decisions,
        "mtd": None if mtd_info is None else mtd_info["mtd"],
        "stopped": stopped_at is not None,
        "mtd_evidence": mtd_info,
        "counts": counts_table(n, y),
    }
