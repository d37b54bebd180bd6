"""``ct_followup``: the follow-up record and AE narrative, template backend.

Reads (set before this component runs):

* ``doc._.ct_context`` – the visit context, a dict given by the caller (or by
  ``en-clinical-trials generate`` from each input line). Known keys:
  ``patient_id``, ``age``, ``sex``, ``trial_id``, ``phase``, ``arm``,
  ``visit``, ``cycle``, ``day``, ``drug``, ``dose``, ``plan`` (str or list of
  str). Any other key is a free field, shown under "Other context". Values
  are str / int / float / bool / None (``plan`` may be a list of str).
  ``None`` (not set) is the same as ``{}``.
* ``doc._.ct_adverse_events`` and ``doc._.ct_regimens`` – written by
  ``ct_reasoner``; ``None`` (reasoner not in the pipeline) is read as "no AE /
  regimen extracted".
* ``doc.ents`` – DRUG and DOSE entities count as input facts for the check.

Writes:

* ``doc._.ct_followup`` – ``{"record": str (Markdown), "narrative": str | None,
  "backend": "template"}``; the narrative is a CIOMS-style paragraph per
  current serious AE, ``None`` when there is none.
* ``doc._.ct_followup_issues`` – list of str, the faithfulness violations of
  record + narrative (see :mod:`ct_safety_nlp.faithfulness`); ``[]`` when
  faithful.

Templates are Jinja2 files shipped in the package (``templates/record.md.j2``,
``templates/narrative.txt.j2``); a user folder with files of the same names
(either or both) overrides them, given as ``template_dir`` in the component
config or in ``[initialize.components.ct_followup]``. The templates in use are
saved with the pipeline (``to_disk``), so a packaged pipeline never reads the
folder again. Rendering is deterministic: same Doc and context, same text.
"""

import functools
import json
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, Union

from spacy.language import Language
from spacy.pipeline import Pipe
from spacy.tokens import Doc
from spacy.util import ensure_path

from .extensions import register_extensions
from .faithfulness import check_faithfulness
from .text import DrugVocabulary, TextRules, default_drug_vocabulary, default_text_rules

__all__ = [
    "CONTEXT_FIELDS",
    "FollowUpWriter",
    "TEMPLATE_NAMES",
    "build_facts",
    "load_templates",
    "make_followup",
    "render_followup",
    "validate_context",
]

#: Known ``doc._.ct_context`` keys, in the order the record shows them.
CONTEXT_FIELDS = ("patient_id", "age", "sex", "trial_id", "phase", "arm", "visit", "cycle", "day", "drug", "dose", "plan")
#: Template file names a user template folder may override.
TEMPLATE_NAMES = ("record.md.j2", "narrative.txt.j2")

_SCALARS = (str, int, float, bool, type(None))


def validate_context(context: Any, *, where: str = "ct_context") -> Dict[str, Any]:
    """Check a visit context and return a normalized copy (raises ValueError naming the problem)."""
    if context is None:
        return {}
    if not isinstance(context, dict):
        raise ValueError(f"{where} must be a JSON object (dict), got {type(context).__name__}")
    out: Dict[str, Any] = {}
    for key, value in context.items():
        if not isinstance(key, str) or not key.strip():
            raise ValueError(f"{where}: keys must be non-empty strings, got {key!r}")
        if key == "plan" and isinstance(value, list):
            if not all(isinstance(v, str) for v in value):
                raise ValueError(f"{where}.plan must be a string or a list of strings")
            out[key] = [v.strip() for v in value if v.strip()]
            continue
        if not isinstance(value, _SCALARS):
            raise ValueError(
                f"{where}.{key} must be a string, number, boolean or null, got {type(value).__name__}"
            )
        out[key] = value.strip() if isinstance(value, str) else value
    return out


def _split_drugs(value: str) -> List[str]:
    parts = [value]
    for sep in ("+", "/", ",", " and ", ";"):
        parts = [q for p in parts for q in p.split(sep)]
    return [p.strip() for p in parts if p.strip()]


def _uniq(items: Iterable[str]) -> List[str]:
    seen, out = set(), []
    for item in items:
        key = item.lower()
        if item and key not in seen:
            seen.add(key)
            out.append(item)
    return out


def build_facts(doc: Doc) -> Dict[str, Any]:
    """Everything a record may state, as a JSON-safe dict (the LLM prompt holds only this).

    Keys: ``context`` (validated ct_context), ``adverse_events`` (current and
    historical, not negated), ``pertinent_negatives`` (negated AEs),
    ``regimens``, ``drugs``, ``doses``, ``context_texts`` (the context's string
    values, whose claims count as facts).
    """
    register_extensions()
    context = validate_context(doc._.ct_context)
    aes, negatives = [], []
    for ae in doc._.ct_adverse_events or []:
        term = ae.get("ctcae_term") or ae.get("text") or ""
        fact = {
            "term": term,
            "text": ae.get("text"),
            "ctcae_term": ae.get("ctcae_term"),
            "meddra_code": ae.get("meddra_code"),
            "soc": ae.get("soc"),
            "grade": ae.get("grade"),
            "serious": ae.get("serious"),
            "seriousness_criteria": list(ae.get("seriousness_criteria") or []),
            "drugs": _uniq(str(d) for d in ae.get("drugs") or []),
            "dlt": ae.get("dlt"),
            "action": ae.get("action"),
            "speculated": bool(ae.get("speculated")),
            "historical": bool(ae.get("historical")),
        }
        if ae.get("negated"):
            negatives.append({"term": term, "text": ae.get("text"), "ctcae_term": ae.get("ctcae_term")})
        else:
            aes.append(fact)
    regimens = []
    for reg in doc._.ct_regimens or []:
        regimens.append(
            {
                "drug": reg.get("drug"),
                "dose_text": reg.get("dose_text"),
                "route": reg.get("route"),
                "frequency": reg.get("frequency"),
                "duration": reg.get("duration"),
            }
        )
    drugs: List[str] = []
    if isinstance(context.get("drug"), str):
        drugs.extend(_split_drugs(context["drug"]))
    drugs.extend(r["drug"] for r in regimens if r.get("drug"))
    for ae in aes:
        drugs.extend(ae["drugs"])
    drugs.extend(e.text for e in doc.ents if e.label_ == "DRUG")
    doses: List[str] = []
    if context.get("dose") not in (None, ""):
        doses.append(str(context["dose"]))
    for reg in doc._.ct_regimens or []:
        if reg.get("dose_text"):
            doses.append(reg["dose_text"])
        if reg.get("value") is not None and reg.get("unit"):
            per = f"/{reg['per']}" if reg.get("per") else ""
            doses.append(f"{reg['value']} {reg['unit']}{per}")
    doses.extend(e.text for e in doc.ents if e.label_ == "DOSE")
    context_texts = []
    for value in context.values():
        if isinstance(value, str):
            context_texts.append(value)
        elif isinstance(value, list):
            context_texts.extend(value)
    return {
        "context": context,
        "adverse_events": aes,
        "pertinent_negatives": negatives,
        "regimens": regimens,
        "drugs": _uniq(drugs),
        "doses": _uniq(doses),
        "context_texts": context_texts,
    }


def load_templates(template_dir: Optional[Union[str, Path]] = None) -> Dict[str, str]:
    """The shipped templates, with any file of ``template_dir`` of the same name taking over."""
    pkg = resources.files("ct_safety_nlp").joinpath("templates")
    templates = {name: pkg.joinpath(name).read_text(encoding="utf-8") for name in TEMPLATE_NAMES}
    if template_dir is not None:
        folder = Path(template_dir)
        if not folder.is_dir():
            raise ValueError(f"ct_followup: template_dir {str(folder)!r} is not a folder")
        found = [name for name in TEMPLATE_NAMES if (folder / name).is_file()]
        if not found:
            raise ValueError(
                f"ct_followup: template_dir {str(folder)!r} has none of the template files {', '.join(TEMPLATE_NAMES)}"
            )
        for name in found:
            templates[name] = (folder / name).read_text(encoding="utf-8")
    return templates


def _fmt_number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _view(facts: Dict[str, Any]) -> Dict[str, Any]:
    """Template variables: the facts, with the display strings precomputed."""
    ctx = {**{k: None for k in CONTEXT_FIELDS}, **facts["context"]}
    visit_parts = []
    if ctx.get("visit") not in (None, ""):
        visit_parts.append(str(ctx["visit"]))
    if ctx.get("cycle") not in (None, ""):
        visit_parts.append(f"cycle {_fmt_number(ctx['cycle'])}")
    if ctx.get("day") not in (None, ""):
        visit_parts.append(f"day {_fmt_number(ctx['day'])}")

    regimens = []
    for reg in facts["regimens"]:
        details = [reg[k] for k in ("route", "frequency", "duration") if reg.get(k)]
        regimens.append({"drug": reg.get("drug") or "unnamed drug", "dose": reg.get("dose_text"), "details": ", ".join(details)})
    if not regimens and ctx.get("drug"):
        regimens.append({"drug": str(ctx["drug"]), "dose": str(ctx["dose"]) if ctx.get("dose") else None, "details": ""})
    elif regimens and ctx.get("drug") and ctx.get("dose"):
        # the dose as given by the caller wins for the drug it names
        for reg in regimens:
            if reg["drug"].lower() == str(ctx["drug"]).lower() and not reg["dose"]:
                reg["dose"] = str(ctx["dose"])

    def ae_view(ae: Dict[str, Any]) -> Dict[str, Any]:
        grade = ae.get("grade")
        if ae.get("serious") is True:
            crit = ", ".join(str(c).replace("_", " ") for c in ae["seriousness_criteria"])
            seriousness = f"serious ({crit})" if crit else "serious"
        elif ae.get("serious") is False:
            seriousness = "not serious"
        else:
            seriousness = "seriousness not reported"
        qualifiers = []
        if ae.get("speculated"):
            qualifiers.append("possible, not confirmed")
        if ae.get("dlt") is True:
            qualifiers.append("dose-limiting toxicity")
        return {
            **ae,
            "grade_text": f"grade {grade}" if isinstance(grade, int) else "grade not reported",
            "seriousness_text": seriousness,
            "drugs_text": ", ".join(ae["drugs"]) if ae["drugs"] else "not reported",
            "action_text": ae.get("action") or "not reported",
            "qualifiers": "; ".join(qualifiers),
        }

    current = [ae_view(ae) for ae in facts["adverse_events"] if not ae.get("historical")]
    history = [ae_view(ae) for ae in facts["adverse_events"] if ae.get("historical")]
    plan = ctx.get("plan")
    if isinstance(plan, str):
        plan = [plan] if plan else []
    extra = [(k, ctx[k]) for k in sorted(ctx) if k not in CONTEXT_FIELDS and ctx[k] not in (None, "")]
    return {
        "ctx": ctx,
        "visit": ", ".join(visit_parts),
        "regimens": regimens,
        "aes": current,
        "history": history,
        "negatives": facts["pertinent_negatives"],
        "serious_aes": [ae for ae in current if ae.get("serious") is True],
        "plan": plan or [],
        "extra": extra,
    }


@functools.lru_cache(maxsize=32)
def _compile(source: str):
    """A sandboxed, strict Jinja2 template, compiled once per source text."""
    import jinja2
    import jinja2.sandbox

    env = jinja2.sandbox.SandboxedEnvironment(
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        autoescape=False,
    )
    return env.from_string(source)


def render_followup(facts: Dict[str, Any], templates: Dict[str, str]) -> Dict[str, Any]:
    """Render record and narrative from ``facts`` with the given template sources."""
    import jinja2

    view = _view(facts)
    try:
        record = _compile(templates["record.md.j2"]).render(**view).strip() + "\n"
        narrative: Optional[str] = None
        if view["serious_aes"]:
            narrative = _compile(templates["narrative.txt.j2"]).render(**view).strip() or None
    except jinja2.TemplateError as err:
        raise ValueError(f"ct_followup: template failed to render: {err}") from err
    return {"record": record, "narrative": narrative, "backend": "template"}


class FollowUpWriter(Pipe):
    """Writes ``doc._.ct_followup`` from the Doc's facts and checks it (see module docstring).

    A spaCy ``Pipe``: errors reach ``nlp.set_error_handler``. What the check reads
    text with (the templates, the CTCAE vocabulary, the text rules and drug
    vocabulary, taken from the pipeline's ``ct_reasoner`` at ``initialize``) is
    saved with the pipeline; ``exclude`` takes "templates", "vocabulary",
    "text_rules", "drug_vocabulary"."""

    def __init__(
        self,
        nlp: Language,
        name: str = "ct_followup",
        *,
        template_dir: Optional[str] = None,
        check: bool = True,
    ):
        register_extensions()
        self.vocab = nlp.vocab if nlp is not None else None
        self.name = name
        self.check = check
        self.templates = load_templates(template_dir)
        #: extra AE terms / synonyms (surface -> CTCAE term) / drug names the
        #: faithfulness check recognises in text
        self.ae_terms: List[str] = []
        self.ae_synonyms: Dict[str, str] = {}
        self.drug_names: List[str] = []
        self.text_rules: TextRules = default_text_rules()
        self.drug_rules: DrugVocabulary = default_drug_vocabulary()

    def __call__(self, doc: Doc) -> Doc:
        facts = build_facts(doc)
        result = render_followup(facts, self.templates)
        doc._.ct_followup = result
        if self.check:
            text = result["record"] + ("\n\n" + result["narrative"] if result["narrative"] else "")
            doc._.ct_followup_issues = check_faithfulness(
                text, facts, ae_vocabulary=self.vocabulary(), drug_vocabulary=self.drug_names,
                text_rules=self.text_rules, drug_rules=self.drug_rules,
            )
        else:
            doc._.ct_followup_issues = []
        return doc

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 128) -> Iterable[Doc]:
        error_handler = self.get_error_handler()
        for doc in stream:
            try:
                yield self(doc)
            except Exception as err:  # noqa: BLE001 - the pipeline's handler decides
                error_handler(self.name, self, [doc], err)

    def vocabulary(self) -> Dict[str, str]:
        """surface form -> CTCAE term, for the check (terms map to themselves).
        Built once per set of tables (the check then keys it once: it is the
        same object for every Doc)."""
        stamp = (id(self.ae_terms), id(self.ae_synonyms), len(self.ae_terms), len(self.ae_synonyms))
        if getattr(self, "_vocabulary_stamp", None) != stamp:
            self._vocabulary = {**{t: t for t in self.ae_terms}, **self.ae_synonyms}
            self._vocabulary_stamp = stamp
        return self._vocabulary

    def initialize(
        self,
        get_examples: Optional[Callable[[], Iterable[Any]]] = None,
        *,
        nlp: Optional[Language] = None,
        template_dir: Optional[str] = None,
        ae_terms: Optional[List[str]] = None,
        ae_synonyms: Optional[Dict[str, str]] = None,
        drug_names: Optional[List[str]] = None,
    ) -> None:
        """Set the templates (from ``template_dir``) and the check's extra vocabularies.

        ``ae_terms`` (e.g. every CTCAE term), ``ae_synonyms`` (surface form ->
        CTCAE term) and ``drug_names`` let the check recognise an AE or drug the
        input does not have. Without ``ae_terms``, terms and synonyms are taken
        from the CTCAE knowledge base of a ``ct_reasoner`` in ``nlp``.
        """
        if template_dir is not None:
            self.templates = load_templates(template_dir)
        if ae_terms is None and nlp is not None:
            found = vocabulary_from_pipeline(nlp)
            if found is not None:
                ae_terms, harvested = found
                ae_synonyms = harvested if ae_synonyms is None else ae_synonyms
        if nlp is not None:
            rules = text_rules_from_pipeline(nlp)
            if rules is not None:
                self.text_rules, self.drug_rules = rules
        if ae_terms is not None:
            self.ae_terms = sorted({str(t) for t in ae_terms if str(t).strip()})
        if ae_synonyms is not None:
            self.ae_synonyms = {str(k): str(v) for k, v in sorted(ae_synonyms.items()) if str(k).strip()}
        if drug_names is not None:
            self.drug_names = sorted({str(d) for d in drug_names if str(d).strip()})

    def to_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = ()) -> None:
        path = ensure_path(path)
        path.mkdir(parents=True, exist_ok=True)
        exclude = set(exclude)
        if "templates" not in exclude:
            for name, source in self.templates.items():
                (path / name).write_text(source, encoding="utf-8")
        if "vocabulary" not in exclude:
            data = {"ae_terms": self.ae_terms, "ae_synonyms": self.ae_synonyms, "drug_names": self.drug_names}
            (path / "vocabulary.json").write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
        if "text_rules" not in exclude:
            (path / "text_rules.json").write_text(json.dumps(self.text_rules.to_dict(), indent=1), encoding="utf-8")
        if "drug_vocabulary" not in exclude:
            (path / "drug_vocabulary.json").write_text(json.dumps(self.drug_rules.to_dict(), indent=1), encoding="utf-8")

    def from_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = ()) -> "FollowUpWriter":
        path = ensure_path(path)
        exclude = set(exclude)
        if "templates" not in exclude:
            for name in TEMPLATE_NAMES:
                if (path / name).is_file():
                    self.templates[name] = (path / name).read_text(encoding="utf-8")
        vocab_path = path / "vocabulary.json"
        if vocab_path.is_file() and "vocabulary" not in exclude:
            data = json.loads(vocab_path.read_text(encoding="utf-8"))
            self.ae_terms = list(data.get("ae_terms", []))
            self.ae_synonyms = dict(data.get("ae_synonyms", {}))
            self.drug_names = list(data.get("drug_names", []))
        if (path / "text_rules.json").is_file() and "text_rules" not in exclude:
            self.text_rules = TextRules(json.loads((path / "text_rules.json").read_text(encoding="utf-8")))
        if (path / "drug_vocabulary.json").is_file() and "drug_vocabulary" not in exclude:
            self.drug_rules = DrugVocabulary(json.loads((path / "drug_vocabulary.json").read_text(encoding="utf-8")))
        return self


def text_rules_from_pipeline(nlp: Language) -> Optional[Tuple[TextRules, DrugVocabulary]]:
    """(text rules, drug vocabulary) of the pipeline's ``ct_reasoner`` (any pipe with
    ``tables`` holding both), so the check reads text as the reasoner did; None if none."""
    for _name, pipe in nlp.pipeline:
        tables = getattr(pipe, "tables", None)
        if tables is not None and isinstance(getattr(tables, "text_rules", None), TextRules):
            return tables.text_rules, tables.drugs
    return None


def vocabulary_from_pipeline(nlp: Language) -> Optional[Tuple[List[str], Dict[str, str]]]:
    """(CTCAE terms, synonyms surface -> term) from the knowledge base of a ``ct_reasoner``
    (any pipe with an initialized ``kb`` holding ``table["terms"]`` and ``synonyms``);
    None when the pipeline has none."""
    for _name, pipe in nlp.pipeline:
        kb = getattr(pipe, "kb", None)
        table = getattr(kb, "table", None)
        if isinstance(table, dict) and table.get("terms"):
            terms = [rec["term"] for rec in table["terms"] if "other, specify" not in rec["term"].lower()]
            synonyms = {k: v for k, v in dict(getattr(kb, "synonyms", {}) or {}).items() if len(k) > 3}
            return terms, synonyms
    return None


@Language.factory(
    "ct_followup",
    assigns=["doc._.ct_followup", "doc._.ct_followup_issues"],
    requires=["doc._.ct_adverse_events", "doc._.ct_regimens"],
    default_config={"template_dir": None, "check": True},
)
def make_followup(nlp: Language, name: str, template_dir: Optional[str], check: bool) -> FollowUpWriter:
    """Follow-up record + AE narrative from ``doc._.ct_context``, ``doc._.ct_adverse_events``,
    ``doc._.ct_regimens`` (template backend); writes ``doc._.ct_followup`` and, with
    ``check``, the faithfulness violations to ``doc._.ct_followup_issues``."""
    return FollowUpWriter(nlp, name, template_dir=template_dir, check=check)
