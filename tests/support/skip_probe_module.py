"""Probe for tests/test_skip_policy.py: a module-level importorskip of a missing package."""

import pytest

pytest.importorskip("ct_no_such_package_for_the_probe")


def test_never_runs():
    pass
