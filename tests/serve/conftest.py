"""Fixtures of the service tests: one real small pipeline per session (see serve_helpers)."""

import pytest

pytest.importorskip("fastapi", reason="the service tests need the 'serve' extra (pip install 'ct-safety-nlp[serve]')")


@pytest.fixture(scope="session")
def serve_model_dir(ctcae_xlsx_path) -> str:
    from serve_helpers import saved_model

    return saved_model(str(ctcae_xlsx_path))


@pytest.fixture(scope="session")
def serve_nlp(serve_model_dir):
    import spacy

    from ct_safety_nlp.extensions import register_extensions

    register_extensions()
    return spacy.load(serve_model_dir)


@pytest.fixture(scope="session")
def service(serve_nlp):
    from ct_safety_nlp.serve.service import PipelineService

    return PipelineService(serve_nlp, batch_size=4)
