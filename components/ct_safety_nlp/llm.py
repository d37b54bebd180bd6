"""LLM backend for follow-up records, for spacy-llm's ``llm`` component.

Two registered functions, found by spacy-llm through this package's entry
points (``spacy_llm_tasks`` / ``spacy_llm_models``); neither this module nor
anything it imports at module level imports ``spacy_llm``, ``requests`` or
any model library, so every ``spacy.blank()`` stays fast:

* ``ct.FollowUpRecord.v1`` (``@llm_tasks``): the prompt holds ONLY the
  structured facts of the Doc (visit context, adverse events, regimens, as
  built by :func:`ct_safety_nlp.followup.build_facts`), never ``doc.text``, so
  text inside a document cannot instruct the model. The answer is written to
  ``doc._.ct_followup`` (``backend: "llm"``) and checked by the faithfulness
  check; violations go to ``doc._.ct_followup_issues``.
* ``ct.OpenAICompatible.v1`` (``@llm_models``): any server that speaks the
  OpenAI chat-completions protocol (vLLM, llama.cpp server, Ollama, hosted
  APIs). Nothing is sent when it is built (spacy-llm's stock OpenAI models
  query api.openai.com in their constructor, whatever the endpoint); the API
  key is read from the environment variable named by ``api_key_env`` when a
  request is made; requests have a timeout and are retried with exponential
  backoff on connection errors, timeouts, 429 and 5xx.

Neither is part of the shipped default pipeline. Add them with::

    nlp.add_pipe("llm", config={
        "task": {"@llm_tasks": "ct.FollowUpRecord.v1"},
        "model": {"@llm_models": "ct.OpenAICompatible.v1",
                  "endpoint": "http://127.0.0.1:8080/v1", "name": "my-model",
                  "api_key_env": "MY_LLM_API_KEY"},  # or None: no auth
        "cache": {"@llm_misc": "spacy.BatchCache.v1", "path": "llm_cache",
                  "batch_size": 64, "max_batches_in_mem": 4},
    })

Run it after ``ct_reasoner`` with ``ct_followup`` disabled (or absent): both
write ``doc._.ct_followup``. spacy-llm's cache keys a Doc by its tokens only:
two Docs with the same text but a different ``ct_context`` share one cache
entry, so use the cache only where a text always comes with the same context.
A Doc restored from the cache carries ``ct_followup_issues`` as a tuple.
"""

import json
import os
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, Union

from spacy.language import Language
from spacy.tokens import Doc
from spacy.util import SimpleFrozenDict, ensure_path

from .faithfulness import check_faithfulness
from .followup import build_facts, vocabulary_from_pipeline

__all__ = [
    "DEFAULT_PROMPT_TEMPLATE",
    "FollowUpRecordTask",
    "OpenAICompatibleModel",
    "facts_for_prompt",
    "make_followup_task",
    "make_openai_compatible",
    "split_response",
]

NARRATIVE_MARKER = "NARRATIVE:"

DEFAULT_PROMPT_TEMPLATE = """Write the follow-up record of one clinical-trial visit for a safety reviewer, in a few short sentences.
Use only the facts below. Do not add any adverse event, grade, drug, dose or seriousness that is not listed.
Name each adverse event with its CTCAE term and grade exactly as listed, and each pertinent negative as absent.
{% if has_serious %}
After the record, write a line "NARRATIVE:" and then one short paragraph per serious adverse event: patient, trial, drug and dose, event and grade, seriousness criteria, suspected drug, action taken.
{% endif %}

Facts:
{% for key, value in facts.visit_context.items() %}
- {{ key | replace("_", " ") }}: {% if value is string or value is not iterable %}{{ value }}{% else %}{{ value | join("; ") }}{% endif %}

{% endfor %}
{% for r in facts.regimens %}
- regimen: {{ r.drug }}{% for k in ("dose_text", "route", "frequency", "duration") if r[k] %} {{ r[k] }}{% endfor %}

{% endfor %}
{% for ae in facts.adverse_events %}
- {% if ae.historical %}past {% endif %}adverse event: {{ ae.term }}, {% if ae.grade %}grade {{ ae.grade }}{% else %}grade not reported{% endif %}, {% if ae.serious %}serious{% if ae.seriousness_criteria %} ({{ ae.seriousness_criteria | join(", ") }}){% endif %}{% elif ae.serious is sameas false %}not serious{% else %}seriousness not reported{% endif %}, suspected drug: {{ ae.suspected_drugs | join(", ") or "not reported" }}, action taken: {{ ae.action_taken or "not reported" }}{% if ae.possible_not_confirmed %}, possible (not confirmed){% endif %}{% if ae.dose_limiting_toxicity %}, dose-limiting toxicity{% endif %}

{% endfor %}
{% for term in facts.pertinent_negatives %}
- absent (pertinent negative): {{ term }}
{% endfor %}

Record:
"""


def facts_for_prompt(facts: Dict[str, Any]) -> Dict[str, Any]:
    """The facts the prompt shows: normalized fields only (CTCAE term, grade, flags), no document text.

    An AE's surface text is shown only when the reasoner found no CTCAE term for it.
    """
    aes = []
    for ae in facts["adverse_events"]:
        aes.append(
            {
                "term": ae["term"],
                "grade": ae["grade"],
                "serious": ae["serious"],
                "seriousness_criteria": ae["seriousness_criteria"],
                "suspected_drugs": ae["drugs"],
                "dose_limiting_toxicity": ae["dlt"],
                "action_taken": ae["action"],
                "possible_not_confirmed": ae["speculated"],
                "historical": ae["historical"],
            }
        )
    return {
        "visit_context": facts["context"],
        "adverse_events": aes,
        "pertinent_negatives": [n["term"] for n in facts["pertinent_negatives"]],
        "regimens": [{k: v for k, v in r.items() if v} for r in facts["regimens"]],
    }


def split_response(text: str) -> Tuple[str, Optional[str]]:
    """Split an LLM answer into (record, narrative or None) at a ``NARRATIVE:`` line."""
    text = (text or "").strip()
    idx = text.upper().find(NARRATIVE_MARKER)
    if idx < 0:
        return text + "\n" if text else "", None
    record = text[:idx].strip()
    narrative = text[idx + len(NARRATIVE_MARKER) :].strip()
    return (record + "\n" if record else ""), (narrative or None)


class FollowUpRecordTask:
    """spacy-llm task (non-sharding): prompt from the Doc's facts, answer to ``doc._.ct_followup``."""

    def __init__(
        self,
        template: str,
        ae_terms: Optional[List[str]] = None,
        drug_names: Optional[List[str]] = None,
        check: bool = True,
        ae_synonyms: Optional[Dict[str, str]] = None,
    ):
        self._template = template
        self.ae_terms = sorted({str(t) for t in ae_terms or [] if str(t).strip()})
        self.ae_synonyms = {str(k): str(v) for k, v in sorted((ae_synonyms or {}).items()) if str(k).strip()}
        self.drug_names = sorted({str(d) for d in drug_names or [] if str(d).strip()})
        self.check = check

    # --- the LLMTask protocol ---------------------------------------------
    def generate_prompts(self, docs: Iterable[Doc]) -> Iterable[str]:
        import jinja2.sandbox

        env = jinja2.sandbox.SandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        template = env.from_string(self._template)
        for doc in docs:
            facts = build_facts(doc)
            shown = facts_for_prompt(facts)
            yield template.render(
                facts=shown,
                facts_json=json.dumps(shown, sort_keys=True, ensure_ascii=False, separators=(", ", ": ")),
                has_serious=any(ae["serious"] and not ae["historical"] for ae in facts["adverse_events"]),
            )

    def parse_responses(self, docs: Iterable[Doc], responses: Iterable[str]) -> Iterable[Doc]:
        # spacy-llm hands a non-sharding task one list per Doc holding its one answer
        # (the annotation says Iterable[str], as spacy-llm's own NoOpNoShards task does,
        # because its type check cannot compare nested generics here).
        for doc, answers in zip(docs, responses):
            if isinstance(answers, str):
                answer = answers
            else:
                answers = list(answers)
                answer = answers[0] if answers else ""
            record, narrative = split_response(answer if isinstance(answer, str) else json.dumps(answer))
            doc._.ct_followup = {"record": record, "narrative": narrative, "backend": "llm"}
            issues: List[str] = []
            if not record.strip():
                issues.append("the LLM returned an empty record")
            if self.check:
                facts = build_facts(doc)
                text = record + ("\n\n" + narrative if narrative else "")
                issues.extend(
                    check_faithfulness(text, facts, ae_vocabulary=self.vocabulary(), drug_vocabulary=self.drug_names)
                )
            doc._.ct_followup_issues = issues
            yield doc

    def vocabulary(self) -> Dict[str, str]:
        """surface form -> CTCAE term, for the check (terms map to themselves)."""
        return {**{t: t for t in self.ae_terms}, **self.ae_synonyms}

    @property
    def prompt_template(self) -> str:
        """The template, so spacy-llm's cache can refuse a cache made with another prompt."""
        return self._template

    # --- initialize / serialization -----------------------------------------
    def initialize(self, get_examples: Callable[[], Iterable[Any]], nlp: Language, **kwargs: Any) -> None:
        """Take the check's vocabularies from a ``ct_followup`` or ``ct_reasoner`` in ``nlp``
        (only when none were configured)."""
        if self.ae_terms:
            return
        for _name, pipe in nlp.pipeline:
            if getattr(pipe, "ae_terms", None) and hasattr(pipe, "templates"):  # ct_followup
                self.ae_terms = list(pipe.ae_terms)
                self.ae_synonyms = dict(getattr(pipe, "ae_synonyms", {}) or {})
                self.drug_names = self.drug_names or list(getattr(pipe, "drug_names", []) or [])
                return
        found = vocabulary_from_pipeline(nlp)
        if found is not None:
            self.ae_terms, self.ae_synonyms = sorted(found[0]), dict(found[1])

    def _cfg(self) -> Dict[str, Any]:
        return {
            "template": self._template,
            "ae_terms": self.ae_terms,
            "ae_synonyms": self.ae_synonyms,
            "drug_names": self.drug_names,
            "check": self.check,
        }

    def _set_cfg(self, cfg: Dict[str, Any]) -> None:
        self._template = cfg.get("template", self._template)
        self.ae_terms = list(cfg.get("ae_terms", self.ae_terms))
        self.ae_synonyms = dict(cfg.get("ae_synonyms", self.ae_synonyms))
        self.drug_names = list(cfg.get("drug_names", self.drug_names))
        self.check = bool(cfg.get("check", self.check))

    def to_bytes(self, *, exclude: Tuple[str, ...] = tuple()) -> bytes:
        return json.dumps(self._cfg(), sort_keys=True).encode("utf-8")

    def from_bytes(self, bytes_data: bytes, *, exclude: Tuple[str, ...] = tuple()) -> "FollowUpRecordTask":
        self._set_cfg(json.loads(bytes_data.decode("utf-8")))
        return self

    def to_disk(self, path: Union[str, Path], *, exclude: Tuple[str, ...] = tuple()) -> None:
        path = ensure_path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / "followup_task.json").write_text(json.dumps(self._cfg(), indent=1, sort_keys=True), encoding="utf-8")

    def from_disk(self, path: Union[str, Path], *, exclude: Tuple[str, ...] = tuple()) -> "FollowUpRecordTask":
        cfg_path = ensure_path(path) / "followup_task.json"
        if cfg_path.is_file():
            self._set_cfg(json.loads(cfg_path.read_text(encoding="utf-8")))
        return self


def make_followup_task(
    template: str = DEFAULT_PROMPT_TEMPLATE,
    ae_terms: Optional[List[str]] = None,
    drug_names: Optional[List[str]] = None,
    check: bool = True,
    ae_synonyms: Optional[Dict[str, str]] = None,
) -> FollowUpRecordTask:
    """``ct.FollowUpRecord.v1``: follow-up record from the Doc's structured facts.

    template (str): Jinja2 prompt template (sandboxed); gets ``facts`` (the dict of
        :func:`facts_for_prompt`), ``facts_json`` (the same as JSON) and
        ``has_serious``; no document text is available to it.
    ae_terms / ae_synonyms / drug_names: extra vocabularies for the faithfulness
        check (CTCAE terms, surface form -> CTCAE term, drug names); by default
        taken from ct_followup / ct_reasoner at ``nlp.initialize()``.
    check (bool): run the faithfulness check into ``doc._.ct_followup_issues``.
    """
    return FollowUpRecordTask(
        template=template, ae_terms=ae_terms, drug_names=drug_names, check=check, ae_synonyms=ae_synonyms
    )


class OpenAICompatibleModel:
    """Chat-completions client for any OpenAI-compatible server; holds no connection (pickles)."""

    RETRY_STATUS = (429, 500, 502, 503, 504)

    def __init__(
        self,
        endpoint: str,
        name: str,
        config: Dict[str, Any],
        api_key_env: Optional[str],
        system_prompt: Optional[str],
        max_tries: int,
        interval: float,
        max_request_time: float,
        strict: bool,
        context_length: Optional[int],
    ):
        if not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://")):
            raise ValueError(f"ct.OpenAICompatible.v1: endpoint must be an http(s) URL, got {endpoint!r}")
        if not name:
            raise ValueError("ct.OpenAICompatible.v1: name (the served model's name) is required")
        if max_tries < 1 or interval <= 0 or max_request_time <= 0:
            raise ValueError("ct.OpenAICompatible.v1: max_tries >= 1, interval > 0 and max_request_time > 0 are required")
        url = endpoint.rstrip("/")
        if not url.endswith("/chat/completions"):
            url += "/chat/completions"
        self.url = url
        self.name = name
        self.config = dict(config)
        self.api_key_env = api_key_env
        self.system_prompt = system_prompt
        self.max_tries = max_tries
        self.interval = interval
        self.max_request_time = max_request_time
        self.strict = strict
        self._context_length = context_length

    @property
    def context_length(self) -> Optional[int]:
        return self._context_length

    def _headers(self) -> Dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.api_key_env:
            key = os.environ.get(self.api_key_env)
            if not key:
                raise ValueError(
                    f"ct.OpenAICompatible.v1: environment variable {self.api_key_env} (api_key_env) is not set"
                )
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _post(self, payload: Dict[str, Any]) -> Dict[str, Any]:
        import requests

        headers = self._headers()
        wait = self.interval
        last_error = ""
        for attempt in range(1, self.max_tries + 1):
            try:
                r = requests.post(self.url, headers=headers, json=payload, timeout=self.max_request_time)
            except (requests.ConnectionError, requests.Timeout) as err:
                last_error = f"{type(err).__name__}: {err}"
            else:
                if r.status_code in self.RETRY_STATUS:
                    last_error = f"HTTP {r.status_code}: {r.text[:200]}"
                elif r.status_code >= 400:
                    raise ValueError(f"ct.OpenAICompatible.v1: {self.url} answered HTTP {r.status_code}: {r.text[:500]}")
                else:
                    try:
                        return r.json()
                    except ValueError as err:
                        raise ValueError(f"ct.OpenAICompatible.v1: {self.url} did not answer JSON: {r.text[:200]}") from err
            if attempt < self.max_tries:
                time.sleep(wait)
                wait *= 2
        raise ConnectionError(
            f"ct.OpenAICompatible.v1: no answer from {self.url} after {self.max_tries} tries ({last_error})"
        )

    def _content(self, data: Dict[str, Any]) -> str:
        try:
            content = data["choices"][0]["message"]["content"]
            if not isinstance(content, str):
                raise TypeError("content is not a string")
            return content
        except (KeyError, IndexError, TypeError) as err:
            if self.strict:
                raise ValueError(f"ct.OpenAICompatible.v1: malformed answer from {self.url}: {json.dumps(data)[:300]}") from err
            return json.dumps(data)

    def __call__(self, prompts: Iterable[Iterable[str]]) -> Iterable[Iterable[str]]:
        results: List[List[str]] = []
        for prompts_for_doc in prompts:
            answers: List[str] = []
            for prompt in prompts_for_doc:
                messages = []
                if self.system_prompt:
                    messages.append({"role": "system", "content": self.system_prompt})
                messages.append({"role": "user", "content": prompt})
                payload = {**self.config, "model": self.name, "messages": messages}
                answers.append(self._content(self._post(payload)))
            results.append(answers)
        return results


def make_openai_compatible(
    endpoint: str,
    name: str,
    config: Dict[str, Any] = SimpleFrozenDict(temperature=0.0, max_tokens=512),
    api_key_env: Optional[str] = None,
    system_prompt: Optional[str] = None,
    max_tries: int = 3,
    interval: float = 1.0,
    max_request_time: float = 60.0,
    strict: bool = True,
    context_length: Optional[int] = None,
) -> OpenAICompatibleModel:
    """``ct.OpenAICompatible.v1``: a chat-completions endpoint, no network when built.

    endpoint (str): base URL (``http://127.0.0.1:8080/v1``) or the full
        ``.../chat/completions`` URL.
    name (str): model name the server serves.
    config (dict): extra request fields (temperature, max_tokens, seed, ...).
    api_key_env (str | None): name of the environment variable with the API key
        (sent as a Bearer token); None for servers without auth.
    system_prompt (str | None): system message sent before each prompt (none by
        default: the task's prompt carries the instructions; small local models
        follow a single user message better).
    max_tries / interval / max_request_time: retries with exponential backoff
        (interval, 2*interval, ...) on connection errors, timeouts, 429 and 5xx;
        per-request timeout in seconds.
    strict (bool): raise on a malformed answer instead of passing its JSON on.
    """
    return OpenAICompatibleModel(
        endpoint=endpoint,
        name=name,
        config=config,
        api_key_env=api_key_env,
        system_prompt=system_prompt,
        max_tries=max_tries,
        interval=interval,
        max_request_time=max_request_time,
        strict=strict,
        context_length=context_length,
    )
