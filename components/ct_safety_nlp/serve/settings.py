"""The service's settings: one small dataclass, passed to every worker process.

Plain standard library, so the CLI can check its options without importing
FastAPI. Worker processes started by uvicorn (``--workers N``) receive the
settings as JSON in the environment variable :data:`SETTINGS_ENV` and build
their app from it (:func:`ct_safety_nlp.serve.app.create_app_from_env`). The
API key itself is never put into the settings: each worker reads it from the
environment variable named by ``api_key_env``.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Tuple

#: environment variable carrying the settings (JSON) to uvicorn's worker processes
SETTINGS_ENV = "CT_SAFETY_NLP_SERVE_SETTINGS"

DEFAULT_MAX_BYTES = 1_000_000
DEFAULT_TIMEOUT_S = 60.0
DEFAULT_MAX_DOCUMENTS = 1000
DEFAULT_BATCH_SIZE = 32


class SettingsError(ValueError):
    """A setting that cannot work; the message names it."""


@dataclass(frozen=True)
class ServeSettings:
    """What one worker needs to build its app.

    model: installed pipeline package name or pipeline directory.
    max_bytes: largest accepted request body (bytes); larger is 413. Also the
        largest document of an uploaded file (like ``annotate --max-bytes``).
    timeout_s: per-request time limit for the pipeline work, queueing
        included; longer is 504 and the work stops at the next batch.
    max_documents: most documents in one request; more is 413.
    batch_size: documents per ``nlp.pipe`` batch.
    api_key_env: name of the environment variable holding the API key; None
        means no key is asked for.
    cors_origins: origins allowed to call the API from a browser; empty (the
        default) sends no CORS headers at all.
    """

    model: str = "en_clinical_trials"
    max_bytes: int = DEFAULT_MAX_BYTES
    timeout_s: float = DEFAULT_TIMEOUT_S
    max_documents: int = DEFAULT_MAX_DOCUMENTS
    batch_size: int = DEFAULT_BATCH_SIZE
    api_key_env: Optional[str] = None
    cors_origins: Tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model.strip():
            raise SettingsError("model must be a pipeline package name or directory, got an empty value")
        for name in ("max_bytes", "max_documents", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SettingsError(f"{name} must be a positive integer, got {value!r}")
        if isinstance(self.timeout_s, bool) or not isinstance(self.timeout_s, (int, float)) or not self.timeout_s > 0:
            raise SettingsError(f"timeout_s must be a positive number of seconds, got {self.timeout_s!r}")
        if self.api_key_env is not None and (not isinstance(self.api_key_env, str) or not self.api_key_env.strip()):
            raise SettingsError(f"api_key_env must name an environment variable, got {self.api_key_env!r}")
        object.__setattr__(self, "cors_origins", tuple(self.cors_origins or ()))
        for origin in self.cors_origins:
            if origin == "*" or not isinstance(origin, str) or not origin.startswith(("http://", "https://")):
                raise SettingsError(
                    f"cors origin must be a full origin such as https://safety.example.org (never '*'), got {origin!r}"
                )

    def api_key(self) -> Optional[str]:
        """The API key from the environment, None when none is asked for.
        RAISES SettingsError when the variable is named but unset or empty."""
        if self.api_key_env is None:
            return None
        key = os.environ.get(self.api_key_env, "")
        if not key.strip():
            raise SettingsError(f"--api-key-env {self.api_key_env}: the environment variable is not set or empty")
        return key

    def to_json(self) -> str:
        data: Dict[str, Any] = asdict(self)
        data["cors_origins"] = list(self.cors_origins)
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> "ServeSettings":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise SettingsError(f"{SETTINGS_ENV} is not valid JSON: {err.msg}") from None
        if not isinstance(data, dict):
            raise SettingsError(f"{SETTINGS_ENV} must hold a JSON object")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise SettingsError(f"{SETTINGS_ENV}: unknown setting(s) {unknown}")
        data["cors_origins"] = tuple(data.get("cors_origins") or ())
        return cls(**data)

    @classmethod
    def from_env(cls) -> "ServeSettings":
        text = os.environ.get(SETTINGS_ENV)
        if not text:
            raise SettingsError(f"{SETTINGS_ENV} is not set (start the service with `en-clinical-trials serve`)")
        return cls.from_json(text)

    def public(self) -> Dict[str, Any]:
        """The limits a client may know about (for /v1/info)."""
        return {
            "max_bytes": self.max_bytes,
            "timeout_s": self.timeout_s,
            "max_documents": self.max_documents,
            "batch_size": self.batch_size,
            "api_key_required": self.api_key_env is not None,
            "cors": bool(self.cors_origins),
        }


def origins(values: Optional[List[str]]) -> Tuple[str, ...]:
    out: List[str] = []
    for value in values or []:
        out.extend(part.strip().rstrip("/") for part in value.split(",") if part.strip())
    return tuple(dict.fromkeys(out))
