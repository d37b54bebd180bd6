"""Schema and reader of the lab grading table (``resources/lab_rules.yml``):
``ct.read_lab_rules.v1``. The compiled form is
:class:`ct_safety_nlp.grading.tables.LabRules`."""

from __future__ import annotations

from typing import Any, Dict

from spacy.util import registry

from .io import Dict_, Float, Int, List_, Map, Nullable, Str, Tuple_, find_node, read_table

OPS = ("<", "<=", ">", ">=")
BASELINE_WHEN = ("above_ULN", "always", "below_LLN")
GRADERS = ("count", "hemoglobin", "electrolyte", "temperature", "blood_pressure", "ratio", "direct")

_CUT = Map(
    {"grade": Int(min=1, max=5), "op": Str(choices=OPS), "threshold": Nullable(Float()), "workbook": Dict_(Str(), key=Str(empty=True))},
    required=("grade", "op", "threshold"),
)
_RULE = Map(
    {
        "term": Str(),
        "direction": Str(choices=("low", "high")),
        "unit": Str(empty=True),
        "reference": Str(choices=("LLN", "ULN")),
        # a baseline rule ('<analyte>:baseline'): when its multiples apply (default above_ULN:
        # an abnormal baseline replaces the ULN multiples; always / below_LLN: the higher grade wins)
        "baseline_when": Str(choices=BASELINE_WHEN),
        "cuts": List_(_CUT, min_len=1),
    },
    required=("term", "direction", "unit", "cuts"),
)
SCHEMA = Map(
    {
        "schema_version": Int(min=1, max=1),
        "name": Str(),
        "ctcae_version": Str(),
        "source": Str(),
        "reference_ranges": Dict_(Dict_(Tuple_(Nullable(Float()), Nullable(Float())), key=Str(empty=True))),
        "analytes": Dict_(Map({"name": Str(), "units": List_(Str(empty=True), min_len=1), "grader": Str(choices=GRADERS)}, required=("name", "units", "grader"))),
        "aliases": Dict_(List_(Str(), min_len=1, unique=True)),
        "abbreviations": List_(Str(regex=True), unique=True),
        "unit_required_abbreviations": List_(Str(), unique=True),
        "fever_words": List_(Str(), unique=True),
        "bridge_words": List_(Str(), unique=True),
        "exclusions": Dict_(Map({"before": Str(regex=True), "after": Str(regex=True)})),
        "unit_fits": Dict_(Dict_(Str(empty=True), key=Str(empty=True))),
        "symptomatic_analytes": List_(Str(), unique=True),
        "units": Dict_(Map({"family": Str(empty=True), "factor": Float(), "si": Str(empty=True)}, required=("family", "factor", "si")), key=Str(empty=True)),
        "unit_patterns": List_(Tuple_(Str(regex=True), Str(empty=True)), min_len=1),
        "unitless": Dict_(List_(Tuple_(Str(empty=True), Float(), Float()))),
        "meq_to_mmol": Dict_(Float()),
        "direct": Dict_(List_(Str(choices=("low", "high")), min_len=1)),
        "direct_other_side": Dict_(Str()),
        "symptomatic_grades": Map({"hyponatremia_125_129": Int(min=1, max=5), "hypokalemia_lln_3_0": Int(min=1, max=5)}, required=("hyponatremia_125_129", "hypokalemia_lln_3_0")),
        "rules": Dict_(_RULE, min_len=1),
    },
    required=("schema_version", "reference_ranges", "analytes", "aliases", "abbreviations", "units", "unit_patterns", "unitless", "direct", "symptomatic_grades", "rules"),
)


def _cross_check(data: Dict[str, Any], root, fail) -> None:
    analytes = data["analytes"]
    units = data["units"]
    for section in ("aliases", "reference_ranges", "unitless", "exclusions", "unit_fits", "direct", "meq_to_mmol"):
        for analyte in data.get(section, {}):
            if analyte not in analytes:
                fail(find_node(root, section, analyte), f"{section}: unknown analyte {analyte!r} (not in analytes)")
    for i, (_pattern, label) in enumerate(data["unit_patterns"]):
        if label not in units:
            fail(find_node(root, "unit_patterns", i), f"unit_patterns[{i}]: unit label {label!r} is not in units")
    for analyte, spec in analytes.items():
        for unit in spec["units"]:
            families = {u["family"] for u in units.values()}
            if unit not in units and unit not in families:
                fail(find_node(root, "analytes", analyte), f"analytes.{analyte}: unit or family {unit!r} is not in units")
        if spec["grader"] == "direct" and analyte not in data["direct"]:
            fail(find_node(root, "analytes", analyte), f"analytes.{analyte}: a 'direct' analyte needs its sides in 'direct'")
    for analyte, sides in data["direct"].items():
        for side in sides:
            for unit in data["reference_ranges"].get(analyte, {}) or [u for u, *_ in data["unitless"].get(analyte, [])]:
                key = f"{analyte}_{side}:{'mmol/L' if unit == 'mEq/L' else unit}"
                if key not in data["rules"]:
                    fail(find_node(root, "direct", analyte), f"direct.{analyte}: no rule {key!r} for side {side} in unit {unit!r}")
    for key, rule in data["rules"].items():
        for j, cut in enumerate(rule["cuts"]):
            if cut["threshold"] is None and "reference" not in rule:
                fail(find_node(root, "rules", key, "cuts", j), f"rules.{key}.cuts[{j}]: threshold null needs the rule's 'reference' (LLN/ULN)")


@registry.misc("ct.read_lab_rules.v1")
def read_lab_rules(path: str) -> Dict[str, Any]:
    """Registered ``ct.read_lab_rules.v1``: the lab grading table at ``path``
    (YAML/JSON; schema and comments in ``resources/lab_rules.yml``), checked,
    errors as FILE:LINE."""
    return read_table(path, SCHEMA, kind="lab rules", check=_cross_check)
