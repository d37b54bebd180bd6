"""Dose regimens and AE -> suspect-drug links, by rule.

:func:`parse_dose` turns a DOSE mention ("75 mg/m2", "1 mg/kg daily",
"2.5 mg/m^2 IV q3w") into value, unit, per (``kg`` / ``m2`` / None) and,
where the mention itself says so, route and frequency. :func:`find_regimen_cues`
finds route, frequency and duration phrases in the text after a dose (same
sentence, before the next dose), which is how "paclitaxel 175 mg/m2 IV over
3 hours every 3 weeks for 6 cycles" gets its route, frequency and duration.

When the pipeline has no DOSE / DRUG entities (a blank pipeline), doses are
found with :data:`DOSE_RE` and drugs with :func:`find_drugs_by_rule`: a word
that ends in an INN stem (-mab, -nib, -platin, -taxel, -rubicin, -mycin,
-stine, -abine, -trexate, -famide, -domide, -parin, -olol, -pril, -sartan,
-statin, -azole, -cillin, -floxacin, -vir, -sone, -olone, ...), a short list
of common trial drugs without such a stem, or "study drug" / "investigational
product".

Suspect-drug link rule (:func:`link_drugs`), per AE mention, among the drugs
of its sentence:

1. a drug joined to the AE by a causal cue: "<drug>-induced/-related/
   -associated AE", "AE induced by / due to / after / following / associated
   with / secondary to / attributed to / related to / on / with <drug>"
   (cue and drug at most 6 words after the AE, or the drug right before the
   hyphenated cue);
2. otherwise the drugs of the AE's clause;
3. otherwise every drug of the sentence (the reviewer sees them all; none is
   dropped by guessing).

A drug the text calls unrelated ("considered unrelated to the study drug",
"not attributed to X") is never linked. When no DOSE entities exist, a
number+unit after "clearance", "GFR", "output", "intake", "volume" is a
measurement, not a dose.
"""

import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

_NUM = r"\d+(?:[.,]\d+)*(?:\s*(?:-|–|to)\s*\d+(?:[.,]\d+)*)?"
_MASS = r"(?:mg|g|mcg|µg|μg|ug|ng|gram|grams|milligrams?|micrograms?|IU|U|units?|mL|ml|mmol|mEq|MBq|GBq|Gy|cGy|mg\s*eq)"
_PER = r"(?:\s*/\s*(?:kg|m\s*\^?\s*2|m²|sq\.?\s*m|body\s+weight))"
DOSE_RE = re.compile(
    rf"(?<![\w.])(?P<value>{_NUM})\s*(?P<unit>{_MASS})(?P<per>{_PER})?(?P<rate>\s*/\s*(?:day|d|dose|week|wk|h|hr|hour|min))?(?![\w/])"
    rf"|(?<![\w])AUC\s*(?:of\s*)?(?P<auc>\d+(?:\.\d+)?)",
    re.IGNORECASE,
)

ROUTES: List[Tuple[str, str]] = [
    (r"intravenous(?:ly)?|i\.v\.?|IV(?:\s+(?:bolus|infusion|push))?|by\s+infusion", "intravenous"),
    (r"oral(?:ly)?|p\.o\.?|PO|by\s+mouth|per\s+os", "oral"),
    (r"subcutaneous(?:ly)?|s\.c\.?|SC|SQ|s\.q\.?", "subcutaneous"),
    (r"intramuscular(?:ly)?|i\.m\.?|IM", "intramuscular"),
    (r"intrathecal(?:ly)?|IT", "intrathecal"),
    (r"intravesical(?:ly)?", "intravesical"),
    (r"intraperitoneal(?:ly)?|i\.p\.?", "intraperitoneal"),
    (r"topical(?:ly)?", "topical"),
    (r"transdermal(?:ly)?", "transdermal"),
    (r"sublingual(?:ly)?", "sublingual"),
    (r"inhaled|by\s+inhalation|nebuli[sz]ed", "inhaled"),
]
_CASE_SENSITIVE_ROUTES = {"IM", "IT"}  # English words in lower case ("im", "it")

FREQUENCIES: List[Tuple[str, str]] = [
    (r"q\.?\s*d\.?|o\.?d\.?|once\s+(?:a\s+)?dai?ly|once\s+a\s+day|every\s+day|daily|/day|per\s+day|a\s+day", "daily"),
    (r"b\.?i\.?d\.?|twice\s+(?:a\s+)?daily|twice\s+a\s+day|two\s+times\s+(?:a\s+)?day|q12h|every\s+12\s+hours", "twice daily"),
    (r"t\.?i\.?d\.?|three\s+times\s+(?:a\s+)?dai?ly|three\s+times\s+a\s+day|q8h|every\s+8\s+hours", "three times daily"),
    (r"q\.?i\.?d\.?|four\s+times\s+(?:a\s+)?dai?ly|four\s+times\s+a\s+day|q6h|every\s+6\s+hours", "four times daily"),
    (r"q\s*(\d+)\s*h|every\s+(\d+)\s+hours?", "every {n} hours"),
    (r"q\s*(\d+)\s*w(?:ks?|eeks?)?|every\s+(\d+|two|three|four|six)\s+weeks?|(\d+|two|three|four)-weekly", "every {n} weeks"),
    (r"q\s*(\d+)\s*d|every\s+(\d+|two|three|other)\s+days?", "every {n} days"),
    (r"qw|q\.?\s*wk|weekly|once\s+(?:a\s+)?week(?:ly)?|every\s+week|/week|per\s+week", "weekly"),
    (r"biweekly|every\s+other\s+week|fortnightly", "every 2 weeks"),
    (r"monthly|every\s+month|once\s+a\s+month|q\s*4\s*w|q\.?\s*month", "monthly"),
    (r"on\s+days?\s+\d+(?:\s*(?:,|and|-|–|to)\s*\d+)*(?:\s+of\s+(?:each|every|a)\s+\d+-day\s+cycle)?", None),
    (r"(?:as\s+a\s+)?single\s+dose|once|one\s+dose", "once"),
    (r"continuous(?:ly)?|continuous\s+infusion", "continuous"),
    (r"p\.?r\.?n\.?|as\s+needed", "as needed"),
]
_WORDNUM = {"two": "2", "three": "3", "four": "4", "six": "6", "other": "2"}

DURATIONS = re.compile(
    r"(?:for|during|x|×|over)\s+(?:a\s+(?:total\s+)?(?:of\s+)?)?(?:\d+(?:\.\d+)?|one|two|three|four|five|six|seven|eight|ten|twelve)"
    r"(?:\s*(?:-|–|to)\s*\d+)?\s*(?:consecutive\s+)?(?:minutes?|mins?|hours?|hrs?|h|days?|d|weeks?|wks?|months?|mos?|years?|cycles?|courses?|doses?)\b",
    re.IGNORECASE,
)

#: INN stems that end common drug names (documented above).
DRUG_SUFFIXES = (
    "mab", "nib", "platin", "taxel", "rubicin", "mycin", "micin", "stine", "abine", "trexate", "famide", "fosfamide",
    "domide", "parin", "olol", "pril", "sartan", "statin", "azole", "cillin", "floxacin", "vir", "sone", "olone",
    "tecan", "zomib", "lisib", "ciclib", "rafenib", "parib", "tinib", "limus", "kinra", "leukin", "grastim",
    "poetin", "relin", "dronate", "azepam", "azolam", "oxetine", "triptyline", "pramine", "peridol",
    "apine", "idone", "setron", "prazole", "tidine", "fibrate", "gliptin", "glitazone", "formin", "profen", "fenac",
    "coxib", "cycline", "penem", "thromycin", "oxacin", "amycin", "fungin", "conazole", "bicin", "xaban",
    "gatran",
)
_SUFFIX_STOP = frozenset(
    {"potassium", "sodium", "calcium", "magnesium", "medium", "premium", "delirium", "equilibrium", "cranium",
     "april", "virtual", "provir", "hormone", "cortisone", "testosterone", "progesterone", "aldosterone"}
)
#: Common trial drugs without an INN stem that the suffix rule would miss.
DRUG_WORDS = frozenset(
    {"cisplatin", "carboplatin", "oxaliplatin", "fluorouracil", "5-fu", "5-fluorouracil", "methotrexate", "cyclophosphamide",
     "ifosfamide", "doxorubicin", "epirubicin", "etoposide", "irinotecan", "topotecan", "gemcitabine", "capecitabine",
     "cytarabine", "fludarabine", "vincristine", "vinorelbine", "vinblastine", "bleomycin", "dacarbazine",
     "temozolomide", "lenalidomide", "thalidomide", "pomalidomide", "tamoxifen", "letrozole", "anastrozole",
     "prednisone", "prednisolone", "dexamethasone", "hydroxyurea", "interferon", "interleukin-2", "aldesleukin",
     "warfarin", "heparin", "aspirin", "insulin", "lithium", "amiodarone", "digoxin", "allopurinol", "morphine",
     "ondansetron", "loperamide", "levothyroxine", "amlodipine", "lisinopril", "furosemide", "phenytoin",
     "carbamazepine", "valproate", "clozapine", "olanzapine", "paclitaxel", "docetaxel", "cabazitaxel",
     "pemetrexed", "mitomycin", "busulfan", "melphalan", "chlorambucil", "bendamustine", "azacitidine",
     "decitabine", "arsenic trioxide", "tretinoin", "bortezomib", "carfilzomib", "rituximab", "trastuzumab",
     "bevacizumab", "cetuximab", "pembrolizumab", "nivolumab", "ipilimumab", "atezolizumab", "durvalumab",
     "sunitinib", "sorafenib", "imatinib", "erlotinib", "gefitinib", "osimertinib", "olaparib", "everolimus"}
)
_STUDY_DRUG_RE = re.compile(
    r"\b(?:the\s+)?(?:study\s+(?:drug|medication|treatment)|investigational\s+(?:product|drug|agent))\b|(?<![\w-])5-?FU(?![\w])",
    re.I,
)
_WORD_RE = re.compile(r"(?<![\w])[A-Za-z][A-Za-z0-9]*[a-z][A-Za-z0-9]*(?![\w])")  # hyphens split words: "heparin-induced"
_CAUSAL_AFTER = re.compile(
    r"^[\s,]*(?:\w+\s+){0,4}?(?:induced\s+by|caused\s+by|due\s+to|after|following|associated\s+with|secondary\s+to|"
    r"attributed\s+to|attributable\s+to|related\s+to|from|on|with|during|of)\s+(?:the\s+|a\s+|\w+\s+){0,3}$",
    re.IGNORECASE,
)
_NOT_CAUSAL_BEFORE = re.compile(
    r"(?:\bunrelated\s+to|\bnot\s+(?:related|attributed|attributable|due)\s+to|\bindependent\s+of)\s+(?:the\s+|a\s+|\w+\s+){0,2}$",
    re.IGNORECASE,
)
_LAB_BEFORE_DOSE = re.compile(r"\b(?:clearance|e?GFR|output|intake|volume|diuresis|flow)\b[^.;]{0,25}$", re.IGNORECASE)
_CAUSAL_HYPHEN = re.compile(r"^[\s]*-?\s*(?:induced|related|associated|caused|mediated|triggered)\b", re.IGNORECASE)


@dataclass(frozen=True)
class DoseParse:
    value: Optional[float]
    value_text: str
    unit: Optional[str]
    per: Optional[str]
    route: Optional[str]
    frequency: Optional[str]


def _to_float(text: str) -> Optional[float]:
    text = text.strip()
    first = re.split(r"\s*(?:-|–|to)\s*", text)[0]
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+", first):
        first = first.replace(",", "")
    else:
        first = first.replace(",", ".")
    try:
        return float(first)
    except ValueError:
        return None


def _norm_unit(unit: str) -> str:
    u = re.sub(r"\s+", "", unit)
    low = u.lower()
    table = {"mcg": "µg", "ug": "µg", "μg": "µg", "gram": "g", "grams": "g", "milligram": "mg", "milligrams": "mg",
             "microgram": "µg", "micrograms": "µg", "ml": "mL", "iu": "IU", "unit": "U", "units": "U", "u": "U",
             "meq": "mEq", "mgeq": "mg eq", "gy": "Gy", "cgy": "cGy", "mbq": "MBq", "gbq": "GBq"}
    return table.get(low, u)


def _norm_per(per: Optional[str]) -> Optional[str]:
    if not per:
        return None
    p = re.sub(r"[\s/^.]", "", per.lower())
    if p.startswith("kg") or p == "bodyweight":
        return "kg"
    return "m2"


def parse_dose(text: str) -> Optional[DoseParse]:
    """Parse one DOSE mention; None when it holds no number with a dose unit.

    >>> parse_dose("75 mg/m2").per
    'm2'
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_dose expects a str, got {type(text).__name__}")
    m = DOSE_RE.search(text)
    if not m:
        return None
    if m.group("auc"):
        value_text = m.group("auc")
        dose = DoseParse(_to_float(value_text), value_text, "AUC", None, None, None)
    else:
        value_text = m.group("value")
        unit = _norm_unit(m.group("unit"))
        per = _norm_per(m.group("per"))
        frequency = None
        if m.group("rate"):
            rate = m.group("rate").strip("/ ").lower()
            if rate in ("day", "d"):
                frequency = "daily"
            elif rate in ("week", "wk"):
                frequency = "weekly"
            else:
                unit = f"{unit}/{rate}"
        dose = DoseParse(_to_float(value_text), value_text, unit, per, None, frequency)
    rest_route, rest_freq, _ = find_regimen_cues(text, m.end(), len(text))
    route = rest_route[0] if rest_route else None
    frequency = dose.frequency or (rest_freq[0] if rest_freq else None)
    return DoseParse(dose.value, dose.value_text, dose.unit, dose.per, route, frequency)


def _match_route(text: str, start: int, end: int) -> List[Tuple[str, int, int]]:
    found = []
    for pattern, name in ROUTES:
        for m in re.finditer(rf"(?<![\w.])(?:{pattern})(?![\w])", text[start:end], re.IGNORECASE):
            if m.group(0) in _CASE_SENSITIVE_ROUTES or m.group(0).upper() not in _CASE_SENSITIVE_ROUTES:
                found.append((name, start + m.start(), start + m.end()))
    return sorted(found, key=lambda x: x[1])


def _match_frequency(text: str, start: int, end: int) -> List[Tuple[str, int, int]]:
    candidates = []
    for order, (pattern, name) in enumerate(FREQUENCIES):
        for m in re.finditer(rf"(?<![\w])(?:{pattern})(?![\w])", text[start:end], re.IGNORECASE):
            if name is None:
                label = m.group(0)
            elif "{n}" in name:
                n = next((g for g in m.groups() if g), "")
                label = name.format(n=_WORDNUM.get(n.lower(), n))
            else:
                label = name
            candidates.append((start + m.start(), start + m.end(), order, label))
    # longest match first ("three times daily" over "daily"), then the table order
    candidates.sort(key=lambda c: (-(c[1] - c[0]), c[2]))
    found, taken = [], set()
    for a, b, _, label in candidates:
        if any(i in taken for i in range(a, b)):
            continue
        taken.update(range(a, b))
        found.append((label, a, b))
    return sorted(found, key=lambda x: x[1])


def find_regimen_cues(text: str, start: int, end: int) -> Tuple[List[str], List[str], List[str]]:
    """Route, frequency and duration phrases in text[start:end], in text order."""
    routes = [r for r, _, _ in _match_route(text, start, end)]
    freqs = [f for f, _, _ in _match_frequency(text, start, end)]
    durations = [m.group(0) for m in DURATIONS.finditer(text, start, end)]
    return routes, freqs, durations


def find_doses(text: str, start: int = 0, end: Optional[int] = None) -> List[Tuple[int, int]]:
    """(start, end) of dose expressions found by :data:`DOSE_RE` in text[start:end]."""
    end = len(text) if end is None else end
    return [
        (m.start(), m.end())
        for m in DOSE_RE.finditer(text, start, end)
        if not _LAB_BEFORE_DOSE.search(text[max(0, m.start() - 40) : m.start()])  # "creatinine clearance 45 mL/min"
    ]


def find_drugs_by_rule(text: str, start: int = 0, end: Optional[int] = None) -> List[Tuple[int, int, str]]:
    """Drug names by the INN-stem rule / word list / "study drug" in text[start:end]."""
    end = len(text) if end is None else end
    found = []
    for m in _STUDY_DRUG_RE.finditer(text, start, end):
        name = re.sub(r"^the\s+", "", m.group(0), flags=re.I)
        found.append((m.end() - len(name), m.end(), name))
    for m in _WORD_RE.finditer(text, start, end):
        word = m.group(0)
        low = word.lower()
        if low in _SUFFIX_STOP or len(low) < 5:
            if low not in DRUG_WORDS:
                continue
        if low in DRUG_WORDS or any(low.endswith(s) for s in DRUG_SUFFIXES if len(low) > len(s) + 2):
            if not any(a <= m.start() < b for a, b, _ in found):
                found.append((m.start(), m.end(), word))
    return sorted(found)


def link_drugs(
    text: str,
    ae: Tuple[int, int],
    clause: Tuple[int, int],
    drugs: Sequence[Tuple[int, int, str]],
) -> Tuple[List[str], str]:
    """Suspect drugs of one AE (rule in the module docstring) and an evidence line.

    drugs: (start, end, name) of the drugs in the AE's sentence.
    """
    if not drugs:
        return [], ""
    a_start, a_end = ae
    # "considered unrelated to the study drug": the investigator excluded it
    excluded = [name for d_start, _, name in drugs if _NOT_CAUSAL_BEFORE.search(text[max(0, d_start - 60) : d_start])]
    drugs = [d for d in drugs if d[2] not in excluded]
    if not drugs:
        return [], f"drug link: none ({', '.join(excluded)} stated as unrelated)"
    causal = []
    for d_start, d_end, name in drugs:
        between_other = any(a_end <= s2 and e2 <= d_start for s2, e2, _ in drugs if (s2, e2) != (d_start, d_end))
        if d_start >= a_end and not between_other and _CAUSAL_AFTER.match(text[a_end:d_start]) and len(text[a_end:d_start].split()) <= 6:
            causal.append(name)
        elif d_end <= a_start and _CAUSAL_HYPHEN.match(text[d_end:a_start]) and a_start - d_end <= 30:
            causal.append(name)
    if causal:
        names = _unique(causal)
        return names, f"drug link: causal cue between the AE and {', '.join(names)}"
    c_start, c_end = clause
    in_clause = [name for s, e, name in drugs if s >= c_start and e <= c_end]
    if in_clause:
        names = _unique(in_clause)
        return names, f"drug link: {', '.join(names)} named in the same clause"
    names = _unique([name for _, _, name in drugs])
    return names, f"drug link: {', '.join(names)} named in the same sentence"


def _unique(names: Sequence[str]) -> List[str]:
    seen: Dict[str, None] = {}
    for n in names:
        seen.setdefault(n, None)
    return list(seen)


def build_regimen(
    text: str,
    dose: Tuple[int, int],
    scope_end: int,
    drug: Optional[str],
    route: Optional[str] = None,
    frequency: Optional[str] = None,
    duration: Optional[str] = None,
) -> Optional[Dict]:
    """The ``doc._.ct_regimens`` dict for one dose mention text[dose[0]:dose[1]].

    Route / frequency / duration come from (in order) the caller (model
    entities), the dose text itself, then the text after the dose up to scope_end.
    """
    start, end = dose
    dose_text = text[start:end]
    parsed = parse_dose(dose_text)
    if parsed is None:
        return None
    routes, freqs, durs = find_regimen_cues(text, end, scope_end)
    # treatment duration ("for 6 cycles") before infusion time ("over 3 hours")
    durs = sorted(durs, key=lambda d: d.lower().startswith("over"))
    # a route written just before the dose ("IV cisplatin 75 mg/m2")
    before_routes = [r for r, a, b in _match_route(text, max(0, start - 25), start)]
    return {
        "drug": drug,
        "dose_text": dose_text,
        "value": parsed.value,
        "unit": parsed.unit,
        "per": parsed.per,
        "route": route or parsed.route or (routes[0] if routes else None) or (before_routes[-1] if before_routes else None),
        "frequency": frequency or parsed.frequency or (freqs[0] if freqs else None),
        "duration": duration or (durs[0] if durs else None),
        "start_char": start,
        "end_char": end,
    }
