"""kb.search: the one look-up of `kb search` and /v1/kb/search, on either version."""

import pytest

from ct_safety_nlp.kb import CtcaeKB
from ct_safety_nlp.kb.search import METHODS, search, search_kb


@pytest.fixture(scope="module")
def kbs(init_data):
    from ct_safety_nlp.kb import CtcaeMapping, repoint_synonyms

    v6_terms = [r["term"] for r in init_data["kb_v6"]["terms"]]
    v6_syn = repoint_synonyms(init_data["synonyms"], CtcaeMapping(init_data["mapping"]), v6_terms)
    return (CtcaeKB(init_data["kb"], init_data["synonyms"], fallback="contained"),
            CtcaeKB(init_data["kb_v6"], v6_syn, fallback="contained"))


@pytest.mark.parametrize("query,v5,v6,method", [
    ("low platelets", "Platelet count decreased", "Thrombocytopenia", "synonym"),
    ("Thrombocytopenia", "Platelet count decreased", "Thrombocytopenia", None),  # a v5 synonym, the v6 term
    ("nausea", "Nausea", "Nausea", "exact"),
    ("anaemia", "Anemia", "Anemia", None),
])
def test_search_by_version(kbs, query, v5, v6, method):
    r5, r6 = search(kbs[0], query), search(kbs[1], query)
    assert r5[0]["term"] == v5 and r6[0]["term"] == v6
    for row in r5 + r6:
        assert row["method"] in METHODS and {"term", "meddra_code", "soc", "score", "step"} <= set(row)
    if method:
        assert r5[0]["method"] == method


def test_search_kb_keeps_the_service_shape(kbs):
    body = search_kb(kbs[1], "febrile neu", limit=3)
    assert body["ctcae_version"] == "6.0" and body["results"][0]["term"] == "Febrile neutropenia"
    assert body["results"][0]["step"] == "prefix" and body["results"][0]["method"] == "contained"


def test_empty_query_is_an_error(kbs):
    with pytest.raises(ValueError, match="non-empty"):
        search(kbs[0], "  ")
