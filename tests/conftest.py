"""Shared test setup: thread limits for 2-core machines and the slow/gpu/external markers.

* ``slow`` tests run by default (CI runs them); deselect with ``-m "not slow"``.
* ``gpu`` tests run only when a CUDA device is visible.
* ``external`` tests (a network service outside this machine) run only with
  ``--run-external``.
* With the environment variable ``CI`` set, any other skip is a failure
  (:mod:`support.skips`): a missing package, data file, Ray, the LLM model or
  Chromium is something CI must provide. Root-only skips stay skips.
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from support.skips import OPT_IN, fail_skip_in_ci  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


def pytest_addoption(parser):
    parser.addoption("--run-external", action="store_true", default=False, help="run tests that need outside network services")


def _has_cuda() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except Exception:
        return False


def pytest_collection_modifyitems(config, items):
    run_external = config.getoption("--run-external")
    has_gpu = None
    for item in items:
        if "external" in item.keywords and not run_external:
            item.add_marker(pytest.mark.skip(reason=f"{OPT_IN} needs --run-external (outside network service)"))
        if "gpu" in item.keywords:
            if has_gpu is None:
                has_gpu = _has_cuda()
            if not has_gpu:
                item.add_marker(pytest.mark.skip(reason=f"{OPT_IN} no CUDA GPU on this machine"))


def _data_file(*parts: str) -> Path:
    """A reference data file: the project's assets/ first, then ../shared/data/."""
    for base in (REPO_ROOT / "assets", SHARED_DATA):
        path = base.joinpath(*parts)
        if path.exists():
            return path
    pytest.skip(f"data file {'/'.join(parts)} not found in assets/ or ../shared/data/ (run `spacy project assets`)")


@pytest.fixture(scope="session")
def phee_train_path() -> Path:
    return _data_file("phee", "train.json")


@pytest.fixture(scope="session")
def phee_dev_path() -> Path:
    return _data_file("phee", "dev.json")


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory, phee_train_path, phee_dev_path):
    """60 PHEE train and 20 dev sentences as .spacy files (short trainings)."""
    from collections import Counter

    import spacy

    from scripts import convert

    out = tmp_path_factory.mktemp("corpus")
    nlp = spacy.blank("en")
    train = list(convert.read_jsonl(phee_train_path))[:60]
    dev = list(convert.read_jsonl(phee_dev_path))[:20]
    convert.write_docbin(nlp, train, out / "train.spacy", Counter())
    convert.write_docbin(nlp, dev, out / "dev.spacy", Counter())
    return out


@pytest.fixture(scope="session")
def ctcae_xlsx_path() -> Path:
    return _data_file("ctcae", "CTCAE_v5.0.xlsx")


@pytest.fixture(scope="session")
def ctcae_v6_xlsx_path() -> Path:
    return _data_file("ctcae", "CTCAE_v6.0.xlsx")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    fail_skip_in_ci(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    """A module-level skip (``pytest.importorskip`` of a required package)."""
    outcome = yield
    fail_skip_in_ci(outcome.get_result())
