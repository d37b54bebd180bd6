"""The CI skip policy (tests/conftest.py + tests/support/skips.py), run as
pytest processes on probe files: without CI a skip is a skip; with CI set a
skip is a failure unless it is root-only or an opt-in marker's (gpu without
CUDA, external without --run-external); xfail is untouched; a module-level
importorskip of a missing package fails too."""

import os
import re
import subprocess
import sys

import pytest

from support.pipelines import REPO

pytestmark = pytest.mark.filterwarnings("ignore")


def _probe(ci):
    """Run both probe files in one pytest process; RETURNS (result, {test or module: outcome})."""
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci:
        env["CI"] = "true"
    res = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-v", "-rsE", "--continue-on-collection-errors",
         "tests/support/skip_probe.py", "tests/support/skip_probe_module.py"],
        cwd=REPO, capture_output=True, text=True, env=env, timeout=180,
    )
    outcomes = {}
    for test, outcome in re.findall(r"^tests/support/\S+?::(\w+) (PASSED|FAILED|SKIPPED|XFAIL|ERROR)", res.stdout, re.M):
        outcomes[test] = outcome
    for outcome in re.findall(r"^(ERROR|SKIPPED) .*skip_probe_module.py", res.stdout, re.M):
        outcomes["module"] = outcome
    return res, outcomes


PROBE = {"test_needs_a_package", "test_root_only", "test_gpu_marker", "test_expected_failure",
         "test_root_only_prefix_is_stable", "module"}


@pytest.mark.parametrize(
    "ci, changed",
    [
        (False, {}),
        # under CI only the plain skips fail: the test's and the module-level importorskip
        (True, {"test_needs_a_package": "FAILED", "module": "ERROR"}),
    ],
)
def test_skips_under_ci(ci, changed):
    res, outcomes = _probe(ci)
    import torch  # the gpu marker's condition

    expected = {"test_needs_a_package": "SKIPPED", "test_root_only": "SKIPPED",
                "test_gpu_marker": "PASSED" if torch.cuda.is_available() else "SKIPPED",
                "test_expected_failure": "XFAIL", "test_root_only_prefix_is_stable": "PASSED", "module": "SKIPPED"}
    expected.update(changed)
    assert outcomes == expected, res.stdout[-3000:]
    assert ("skipped in CI (CI='true'): some_required_package is not installed" in res.stdout) == ci
    assert res.returncode == (1 if ci else 0), res.stdout[-3000:]
    if not ci:  # -rs names each skip and its reason
        assert "root-only: mounting a small tmpfs needs root" in res.stdout
