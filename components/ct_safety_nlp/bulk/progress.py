"""Progress reporting and the final summary.

On a terminal: one self-rewriting line with a bar, documents, docs/s and ETA.
Otherwise (logs, CI, ``nohup``): a plain line every ``interval`` seconds.
The ETA is estimated from input bytes done versus total input bytes.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Dict, Optional, TextIO


def _fmt_time(seconds: float) -> str:
    seconds = int(max(0, seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}"


class Progress:
    def __init__(self, total_bytes: int, *, mode: str = "auto", stream: Optional[TextIO] = None, interval: float = 10.0):
        self.stream = stream or sys.stderr
        if mode == "auto":
            mode = "bar" if getattr(self.stream, "isatty", lambda: False)() else "lines"
        self.mode = mode
        self.total_bytes = max(1, total_bytes)
        self.interval = interval if mode == "lines" else min(interval, 0.2)
        self.start = time.monotonic()
        self.last = 0.0
        self.docs = 0
        self.errors = 0
        self.words = 0
        self.bytes_done = 0

    def update(self, docs: int, errors: int, words: int, bytes_done: int) -> None:
        self.docs += docs
        self.errors += errors
        self.words += words
        self.bytes_done += bytes_done
        now = time.monotonic()
        if self.mode != "none" and now - self.last >= self.interval:
            self.last = now
            self._emit(now)

    def _line(self, now: float) -> str:
        elapsed = max(1e-9, now - self.start)
        rate = (self.docs + self.errors) / elapsed
        frac = min(0.999, self.bytes_done / self.total_bytes)
        eta = elapsed * (1 - frac) / frac if frac > 0 else float("nan")
        eta_s = _fmt_time(eta) if eta == eta else "?"
        return (
            f"{100 * frac:5.1f}% | {self.docs} docs, {self.errors} errors | {rate:.1f} docs/s, "
            f"{self.words / elapsed:.0f} words/s | elapsed {_fmt_time(elapsed)} | ETA {eta_s}"
        )

    def _emit(self, now: float) -> None:
        line = self._line(now)
        if self.mode == "bar":
            frac = min(1.0, self.bytes_done / self.total_bytes)
            width = 24
            filled = int(width * frac)
            self.stream.write("\r[" + "#" * filled + "-" * (width - filled) + "] " + line + "\x1b[K")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.mode in ("lines", "bar") and (self.docs or self.errors):
            self._emit(time.monotonic())  # the final state
        if self.mode == "bar":
            self.stream.write("\n")
            self.stream.flush()


def format_summary(summary: Dict[str, Any]) -> str:
    lines = [
        f"documents: {summary['documents']} in docs.jsonl ({summary['run_documents']} this run)",
        f"errors:    {summary['errors']} in errors.jsonl ({summary['run_errors']} this run)",
        f"adverse events: {summary['adverse_events']} ({summary['sdtm_rows']} in ae_sdtm.csv, "
        f"{summary.get('sdtm_excluded', 0)} left out: ae_sdtm_excluded.csv), regimens: {summary['regimens']}",
        f"speed:     {summary['words_per_s']:.0f} words/s, {summary['docs_per_s']:.1f} docs/s "
        f"while annotating (this run: {summary['run_words']} words)",
        f"wall time: {_fmt_time(summary['wall_s'])} ({summary['wall_s']:.1f} s, of which annotating "
        f"{summary['processing_s']:.1f} s), engine {summary['engine']}",
    ]
    check = summary.get("sdtm_check") or {}
    if check.get("errors"):
        lines.append(
            f"WARNING:   ae_sdtm.csv fails the SDTM AE check: {check['errors']} error(s), first: {check['first']} "
            "(all in ae_sdtm_check.txt; give --studyid / usubjid fields or --subjects)"
        )
    if summary.get("resumed"):
        lines.append(f"resumed:   {summary['resumed']} documents were already done")
    if summary.get("skipped_files"):
        skipped = ", ".join(f"{ext} ({n})" for ext, n in sorted(summary["skipped_files"].items()))
        lines.append(f"skipped files with other extensions (see --format): {skipped}")
    for repair in summary.get("repairs") or []:
        lines.append(f"repaired:  {repair}")
    lines.append(f"status:    {summary['status']} (exit {summary['exit_code']})")
    return "\n".join(lines)
