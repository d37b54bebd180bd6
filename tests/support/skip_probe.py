"""Probe for tests/test_skip_policy.py (not collected by the suite: no test_ prefix)."""

import pytest

from support.skips import ROOT_ONLY, skip_root_only


def test_needs_a_package():
    pytest.skip("some_required_package is not installed")


def test_root_only():
    skip_root_only("mounting a small tmpfs needs root")


@pytest.mark.gpu
def test_gpu_marker():
    pass


@pytest.mark.xfail(reason="known", strict=True)
def test_expected_failure():
    assert False


def test_root_only_prefix_is_stable():
    assert ROOT_ONLY == "root-only:"
