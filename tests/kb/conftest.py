"""Fixtures of the knowledge-base tests: the CTCAE v5.0 / v6.0 workbooks (assets/ or
../shared/data/), their compiled tables and one blank + ct_reasoner pipeline with both
versions (the "contained" fallback: no sentence encoder, fast)."""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _data_file(*parts):
    for base in (REPO / "assets", REPO.parent / "shared" / "data"):
        path = base.joinpath(*parts)
        if path.exists():
            return path
    pytest.skip(f"data file {'/'.join(parts)} not found in assets/ or ../shared/data/ (run `spacy project assets`)")


@pytest.fixture(scope="session")
def v5_xlsx():
    return _data_file("ctcae", "CTCAE_v5.0.xlsx")


@pytest.fixture(scope="session")
def v6_xlsx():
    return _data_file("ctcae", "CTCAE_v6.0.xlsx")


@pytest.fixture(scope="session")
def v6_table(v6_xlsx):
    from ct_safety_nlp.kb import read_ctcae_workbook

    return read_ctcae_workbook(v6_xlsx, "6.0")


@pytest.fixture(scope="session")
def mapping_data(v6_xlsx):
    from ct_safety_nlp.kb import read_ctcae_mapping

    return read_ctcae_mapping(v6_xlsx)


@pytest.fixture(scope="session")
def synonyms_path():
    return REPO / "assets" / "ctcae_synonyms.json"


@pytest.fixture(scope="session")
def init_data(v5_xlsx, v6_table, mapping_data, synonyms_path):
    from ct_safety_nlp.kb import read_ctcae_workbook, read_synonyms

    return {
        "kb": read_ctcae_workbook(v5_xlsx),
        "synonyms": read_synonyms(synonyms_path),
        "kb_v6": v6_table,
        "mapping": mapping_data,
        "fallback": "contained",
    }


def make_pipeline(init_data, version="5.0", **extra):
    import spacy

    import ct_safety_nlp.reasoner  # noqa: F401

    nlp = spacy.blank("en")
    nlp.add_pipe("ct_reasoner", config={"ctcae_version": version})
    nlp.get_pipe("ct_reasoner").initialize(lambda: [], nlp=nlp, **{**init_data, **extra})
    return nlp


@pytest.fixture(scope="session")
def make_nlp(init_data):
    """make_nlp(version="5.0", **initialize overrides) -> a fresh blank + ct_reasoner pipeline."""
    return lambda version="5.0", data=None, **extra: make_pipeline(init_data if data is None else data, version, **extra)


@pytest.fixture(scope="session")
def saved_pipeline(init_data, tmp_path_factory):
    """A blank + ct_reasoner pipeline with both versions, saved (v5.0 active)."""
    path = tmp_path_factory.mktemp("kb_pipeline") / "nlp"
    make_pipeline(init_data).to_disk(path)
    return path
