"""The HTML safety report in a real browser: Debian's headless Chromium loads
report.html with no console message (the page has no script, so any message is
an error: a failed resource, a parse problem) and takes a screenshot; the same
check is shown to catch a page that does log an error. Skipped when chromium is
not installed (.ci/run installs it)."""

import shutil
import subprocess
from pathlib import Path

import pytest

from test_safety_summarize import annotated, summarized  # noqa: F401 - the summarized fixture run, shared

CHROMIUM = shutil.which("chromium")
pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install -y chromium)"),
    pytest.mark.slow,  # annotates the fixture again (~1 min on 2 cores)
]

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--hide-scrollbars", "--enable-logging=stderr", "--v=0",
]


def chromium(url: str, tmp: Path, *extra: str) -> subprocess.CompletedProcess:
    profile = tmp / f"profile-{len(list(tmp.iterdir()))}"
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *extra, url], capture_output=True, text=True, timeout=120)


def console_messages(stderr: str):
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def test_the_check_catches_console_errors(tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><body><img src="missing.png"><script>notDefined();</script></body></html>')
    res = chromium(bad.as_uri(), tmp_path, "--dump-dom")
    assert res.returncode == 0
    assert any("notDefined" in m for m in console_messages(res.stderr))


def test_report_loads_without_console_errors_and_screenshots(tmp_path, summarized):  # noqa: F811
    out, _ = summarized
    report = out / "report.html"
    res = chromium(report.as_uri(), tmp_path, "--dump-dom")
    assert res.returncode == 0, res.stderr[-2000:]
    assert console_messages(res.stderr) == []
    dom = res.stdout
    assert "Trial safety summary" in dom and dom.count("<svg") >= 3  # incidence, grades, timeline
    shot = tmp_path / "report.png"
    res = chromium(report.as_uri(), tmp_path, "--window-size=1280,2600", f"--screenshot={shot}")
    assert res.returncode == 0 and console_messages(res.stderr) == []
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000  # a blank page is a few kB
