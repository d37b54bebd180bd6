"""The review page driven in a real headless Chromium (Debian's ``chromium``)
over the DevTools protocol, against a real ``en-clinical-trials serve``.

Where Chromium is missing the tests are skipped with the reason, except under
CI (``CI`` set), where a missing browser is a failure: ``.ci/run`` installs it.
With ``CT_SERVE_SCREENSHOT=PATH`` the screenshot is also copied to PATH (the
README's image comes from there).
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import time
from pathlib import Path

import pytest

from cdp import CTRL, Browser, find_chromium
from serve_helpers import NARRATIVE, NOTES, Server, expected_record

pytestmark = pytest.mark.slow


def chromium_or_skip() -> str:
    path = find_chromium()
    if path:
        return path
    # with CI set, tests/conftest.py turns this skip into a failure
    pytest.skip("Debian's chromium is not installed (apt-get install chromium; .ci/run installs it)")


@pytest.fixture(scope="module")
def server(serve_model_dir):
    with Server(serve_model_dir) as srv:
        srv.wait_ready()
        yield srv
        log = srv.log()
    for text in [NARRATIVE] + NOTES:
        assert text[:40] not in log  # no document text in the server log


@pytest.fixture()
def browser():
    binary = chromium_or_skip()
    with Browser(binary, width=1440, height=1000) as b:
        yield b




def page_text(browser, selector: str) -> str:
    return browser.evaluate(f"(document.querySelector({json.dumps(selector)}) || {{}}).textContent || ''")


def open_page(browser, server) -> None:
    browser.navigate(server.url + "/")
    browser.wait_for("document.body.dataset.state === 'idle'", timeout=60)


def test_paste_a_narrative_highlights_table_evidence_followup_without_console_errors(browser, server, serve_nlp, tmp_path):
    expected = expected_record(serve_nlp, NARRATIVE, context={"patient_id": "P-017"})
    aes = expected["adverse_events"]
    assert len(aes) >= 4

    open_page(browser, server)
    assert "en_serve_test" in page_text(browser, "#info-pipeline")
    assert "v5.0" in page_text(browser, "#info-ctcae")
    # fill the visit context, then paste the narrative and press Ctrl+Enter
    browser.evaluate("document.getElementById('context-box').open = true")
    browser.evaluate("document.querySelector('#context-box input[name=patient_id]').focus()")
    browser.insert_text("P-017")
    browser.evaluate("document.getElementById('text').focus()")
    browser.insert_text(NARRATIVE)
    browser.key("Enter", "Enter", 13, modifiers=CTRL)
    browser.wait_for("document.body.dataset.state === 'done'", timeout=60)

    # the AE table: one row per AE, terms and grades as the pipeline says
    rows = browser.evaluate("""[...document.querySelectorAll('#ae-body tr[data-ae]')].map(r =>
        [...r.cells].map(c => c.innerText.trim()))""")
    assert len(rows) == len(aes)
    for row, ae in zip(rows, aes):
        assert row[1] == ae["text"]
        assert row[2].startswith(ae["ctcae_term"])
        assert row[3] == (str(ae["grade"]) if ae["grade"] else "–")
        assert ("Negated" in row[5]) == ae["negated"]
        assert ("Serious" in row[6]) == bool(ae["serious"])
    # the highlights: every AE span marked, entities labelled
    marks = browser.evaluate("""(() => { const out = {};
        for (const m of document.querySelectorAll('#doc-text mark[data-ae]')) out[m.dataset.ae] = (out[m.dataset.ae] || '') + m.textContent;
        return out; })()""")
    assert {int(k): v for k, v in marks.items()} == {i: ae["text"] for i, ae in enumerate(aes)}
    tags = browser.evaluate("[...document.querySelectorAll('#doc-text .tag')].map(t => t.textContent)")
    assert "DRUG" in tags and "DOSE" in tags and "AE G4" in tags and "AE · neg" in tags
    assert browser.evaluate("document.querySelectorAll('#doc-text mark.ae.neg').length") >= 1

    # keyboard: Enter on the first mention selects it; its evidence lights up in the text
    browser.evaluate("document.querySelector('#ae-body .mention-btn').focus()")
    browser.key("Enter", "Enter", 13, text="\r")
    browser.wait_for("document.querySelector('#ae-body tr[data-ae=\"0\"]').getAttribute('aria-selected') === 'true'")
    assert page_text(browser, "#doc-text mark.sel") == aes[0]["text"]
    evidence = browser.evaluate("[...document.querySelectorAll('#doc-text mark.evid')].map(m => m.textContent.toLowerCase())")
    assert "grade 4" in evidence and "docetaxel" in evidence and "hospitalised" in evidence
    assert "Evidence for #1" in page_text(browser, "#evidence")
    browser.key("ArrowDown", "ArrowDown", 40)
    browser.wait_for("document.querySelector('#ae-body tr[data-ae=\"1\"]').getAttribute('aria-selected') === 'true'")
    assert browser.evaluate("document.activeElement.dataset.ae") == "1"
    # clicking an AE in the text selects its row
    browser.evaluate("document.querySelector('#doc-text mark[data-ae=\"2\"]').click()")
    browser.wait_for("document.querySelector('#ae-body tr[data-ae=\"2\"]').getAttribute('aria-selected') === 'true'")

    # regimens and the follow-up record with its faithfulness check
    assert "docetaxel" in page_text(browser, "#reg-body")
    assert not browser.evaluate("document.getElementById('followup-panel').hidden")
    assert "Faithfulness check passed" in page_text(browser, "#issues")
    record = page_text(browser, "#record")
    assert "P-017" in record and "Febrile neutropenia" in record
    assert "Febrile neutropenia" in page_text(browser, "#narrative")

    browser.evaluate("document.querySelector('#ae-body .mention-btn').click(); document.activeElement.blur()")
    shot = browser.screenshot(str(tmp_path / "review_page.png"))
    assert Path(shot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and Path(shot).stat().st_size > 20_000
    if os.environ.get("CT_SERVE_SCREENSHOT"):
        shutil.copyfile(shot, os.environ["CT_SERVE_SCREENSHOT"])

    assert browser.problems() == []
    urls = browser.requested_urls()
    assert urls and all(u.startswith(server.url + "/") for u in urls), urls  # nothing from the internet


def test_batch_file_documents_errors_and_exports(browser, server, serve_nlp, tmp_path):
    batch = tmp_path / "visits.csv"
    with open(batch, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["usubjid", "text"])
        writer.writerow(["P-001", NOTES[1]])
        writer.writerow(["P-002", ""])
        writer.writerow(["P-003", NOTES[2]])
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    open_page(browser, server)
    browser.allow_downloads(str(downloads))
    browser.set_file("#file", str(batch))
    browser.wait_for("document.body.dataset.state === 'done'", timeout=60)

    options = browser.evaluate("[...document.querySelectorAll('#doc-select option')].map(o => o.textContent)")
    assert [o.split(" — ")[0] for o in options] == ["visits.csv#1", "visits.csv#3"]
    assert "visits.csv#2" in page_text(browser, "#batch-errors-list")
    assert "1 not annotated" in page_text(browser, "#batch-summary")
    browser.evaluate("document.getElementById('doc-next').click()")
    browser.wait_for("document.getElementById('doc-id').textContent.includes('visits.csv#3')")
    terms = browser.evaluate("[...document.querySelectorAll('#ae-body tr[data-ae] td:nth-child(3) .term')].map(t => t.textContent)")
    assert terms == [ae["ctcae_term"] for ae in expected_record(serve_nlp, NOTES[2])["adverse_events"]]

    browser.evaluate("document.getElementById('export-csv').click()")
    browser.evaluate("document.getElementById('export-md').click()")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not ({"adverse_events.csv", "followup_visits.csv_3.md"} <= {p.name for p in downloads.iterdir()}):
        time.sleep(0.2)
    rows = list(csv.DictReader(io.StringIO((downloads / "adverse_events.csv").read_text(encoding="utf-8"))))
    n_aes = sum(len(expected_record(serve_nlp, t)["adverse_events"]) for t in (NOTES[1], NOTES[2]))
    assert len(rows) == n_aes and {r["doc_id"] for r in rows} == {"visits.csv#1", "visits.csv#3"}
    markdown = (downloads / "followup_visits.csv_3.md").read_text(encoding="utf-8")
    assert markdown.startswith("# Follow-up record") and "## Faithfulness check" in markdown
    assert browser.problems() == []


def test_server_errors_are_shown_not_thrown(browser, server):
    open_page(browser, server)
    browser.evaluate("document.getElementById('text').value = '   '")
    browser.evaluate("document.getElementById('analyse').click()")
    assert "Paste some text first" in page_text(browser, "#status")
    bad = Path(browser.profile) / "scan.pdf"
    bad.write_bytes(b"%PDF-1.4")
    browser.set_file("#file", str(bad))
    browser.wait_for("document.body.dataset.state === 'error'", timeout=30)
    assert "unsupported file type '.pdf'" in page_text(browser, "#status")
    problems = browser.problems()
    # the 422 answer is expected; nothing else may go wrong (no script error)
    assert [p for p in problems if "HTTP 422" not in p and "status of 422" not in p] == [], problems
