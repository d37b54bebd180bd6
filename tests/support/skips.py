"""The skip policy: with ``CI`` set, a skip is a failure unless it is root-only.

A test that cannot run here for a reason CI must fix (a required package,
data file, Ray, the LLM model, Chromium) simply skips; ``tests/conftest.py``
turns that skip into a failure when the environment variable ``CI`` is set.
The only skips CI keeps are those that depend on who runs the suite: their
reason starts with :data:`ROOT_ONLY` (e.g. mounting a small tmpfs needs root;
chmod-000 files are readable by root), and the opt-in markers' skips
(:data:`OPT_IN`: ``gpu`` on a machine without CUDA, ``external`` without
``--run-external``).
"""

from __future__ import annotations

import os

import pytest

#: prefix of a skip reason that stays a skip in CI: it depends on running as root (or not)
ROOT_ONLY = "root-only:"
#: prefix of the opt-in markers' skips (``gpu`` without a CUDA device,
#: ``external`` without --run-external): hardware / network CI does not have
OPT_IN = "opt-in:"
KEPT_IN_CI = (ROOT_ONLY, OPT_IN)


def in_ci() -> bool:
    return bool(os.environ.get("CI"))


def skip_root_only(why: str) -> None:
    """Skip for a reason that depends on running as root (or not)."""
    pytest.skip(f"{ROOT_ONLY} {why}")


def skip_reason(longrepr) -> str:
    """The reason of a skipped report ('' when it cannot be read)."""
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        reason = str(longrepr[2])
    else:
        reason = str(getattr(longrepr, "reprcrash", None) and longrepr.reprcrash.message or longrepr or "")
    return reason[len("Skipped: "):] if reason.startswith("Skipped: ") else reason


def fail_skip_in_ci(report) -> None:
    """With CI set, turn a skip (not an xfail) whose reason is not kept into a failure, in place."""
    if not in_ci() or report.outcome != "skipped" or hasattr(report, "wasxfail"):
        return
    reason = skip_reason(report.longrepr)
    if reason.startswith(KEPT_IN_CI):
        return
    report.outcome = "failed"
    report.longrepr = (
        f"skipped in CI (CI={os.environ.get('CI')!r}): {reason}\n"
        f"CI must provide what this test needs; only skips starting with {' or '.join(KEPT_IN_CI)} are allowed there"
    )
