"""Request and response models of the REST API (pydantic; imported only by the app).

Requests are validated strictly (unknown fields are errors, so a misspelt
field is a 422 naming it). Response models document the contract in the
OpenAPI schema; responses themselves are the plain records, so keys that
other components add (``relatedness``, ``onset``, ...) pass through.
"""

from __future__ import annotations

from typing import Any, Dict, List, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Scalar = Union[str, int, float, bool, None]


def _has_text(value: str) -> str:
    if not value.strip():
        raise ValueError("must contain text, not only whitespace")
    return value


class DocumentIn(BaseModel):
    """One document of a batch."""

    model_config = ConfigDict(extra="forbid")

    id: Optional[str] = Field(None, min_length=1, max_length=1000, description="your id; default: the 1-based position")
    text: str = Field(..., min_length=1, description="the document text")
    context: Optional[Dict[str, Any]] = Field(
        None, description="visit context (patient_id, age, sex, trial_id, phase, arm, visit, cycle, day, drug, dose, plan, free fields)"
    )
    meta: Optional[Dict[str, Any]] = Field(None, description="returned unchanged as the record's meta")

    @field_validator("text")
    @classmethod
    def _text(cls, value: str) -> str:
        return _has_text(value)


class _Batch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: Optional[str] = Field(None, min_length=1, description="one document (or give documents)")
    id: Optional[str] = Field(None, min_length=1, max_length=1000, description="its id (default \"1\")")
    context: Optional[Dict[str, Any]] = Field(None, description="its visit context")
    meta: Optional[Dict[str, Any]] = Field(None, description="returned unchanged as the record's meta")
    documents: Optional[List[DocumentIn]] = Field(None, min_length=1, description="a batch (or give text)")

    @field_validator("text")
    @classmethod
    def _text(cls, value: Optional[str]) -> Optional[str]:
        return None if value is None else _has_text(value)

    @model_validator(mode="after")
    def _one_form(self):
        if (self.text is None) == (self.documents is None):
            raise ValueError("give either 'text' (one document) or 'documents' (a batch), not both and not neither")
        if self.documents is not None and any(v is not None for v in (self.id, self.context, self.meta)):
            raise ValueError("'id', 'context' and 'meta' go inside each item of 'documents' for a batch")
        return self


class AnnotateRequest(_Batch):
    include_text: bool = Field(True, description="put each document's text in its record")
    followup: bool = Field(False, description="add the follow-up record to each record (key 'followup')")


class GenerateRequest(_Batch):
    pass


class ExportDocument(BaseModel):
    """A record as /v1/annotate returned it (only id and adverse_events are read)."""

    model_config = ConfigDict(extra="allow")

    id: str
    adverse_events: List[Dict[str, Any]]


class ExportRequest(BaseModel):
    """A /v1/annotate response (its ``errors`` and other keys are ignored)."""

    model_config = ConfigDict(extra="ignore")

    documents: List[ExportDocument] = Field(..., description="records from /v1/annotate")


# ---- responses (documentation) ------------------------------------------


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Entity(_Open):
    start_char: int
    end_char: int
    label: str
    text: str


class AdverseEvent(_Open):
    text: str
    start_char: int
    end_char: int
    ctcae_term: Optional[str]
    meddra_code: Optional[str]
    soc: Optional[str]
    grade: Optional[int]
    grade_basis: Optional[Literal["explicit", "lab", "outcome", "severity", "criterion", "minimum", "document"]]
    negated: bool
    speculated: bool
    historical: bool
    serious: Optional[bool]
    seriousness_criteria: List[str]
    drugs: List[str]
    dlt: Optional[bool]
    action: Optional[str]
    evidence: List[str]


class Regimen(_Open):
    drug: Optional[str]
    dose_text: Optional[str]
    value: Optional[float]
    unit: Optional[str]
    per: Optional[str]
    route: Optional[str]
    frequency: Optional[str]
    duration: Optional[str]
    start_char: int
    end_char: int


class FollowUp(_Open):
    record: str = Field(..., description="the follow-up record (Markdown)")
    narrative: Optional[str] = Field(None, description="AE narrative for serious events")
    issues: List[str] = Field(..., description="faithfulness issues; [] when faithful")


class DocRecord(_Open):
    """A ``docs.jsonl`` record, as ``en-clinical-trials annotate`` writes it."""

    id: str
    source: Optional[str]
    row: Optional[int]
    sha256: str
    decoded: Optional[str]
    n_chars: int
    n_words: int
    text: Optional[str] = None
    ents: List[Entity]
    spans: Dict[str, List[Dict[str, Any]]]
    adverse_events: List[AdverseEvent]
    regimens: List[Regimen]
    meta: Optional[Dict[str, Any]]
    followup: Optional[FollowUp] = Field(None, description="only with followup: true")


class ErrorRecord(_Open):
    """An ``errors.jsonl`` record: a document that could not be annotated."""

    id: str
    source: Optional[str]
    row: Optional[int]
    error: str
    stage: Literal["read", "nlp"]


class AnnotateResponse(BaseModel):
    documents: List[DocRecord]
    errors: List[ErrorRecord]


class GenerateResult(_Open):
    id: str
    record: str
    narrative: Optional[str]
    issues: List[str]


class GenerateResponse(BaseModel):
    results: List[GenerateResult]
    errors: List[ErrorRecord]


class KbEntry(_Open):
    term: str
    meddra_code: Optional[str]
    soc: Optional[str]
    definition: Optional[str]
    grades: Dict[str, Optional[str]]
    method: str
    matched: str
    score: float


class KbSearchResponse(BaseModel):
    query: str
    ctcae_version: Optional[str]
    match: Optional[KbEntry]
    results: List[KbEntry]


class ErrorDetail(BaseModel):
    status: int
    code: str
    message: str
    fields: Optional[List[Dict[str, str]]] = None


class ErrorResponse(BaseModel):
    error: ErrorDetail


class Health(BaseModel):
    status: Literal["ok"]
    api_key_required: bool


class Info(_Open):
    pipeline: Dict[str, Any]
    ctcae: Optional[Dict[str, Any]]
    library: Dict[str, Any]
    features: Dict[str, bool]
    limits: Dict[str, Any]
