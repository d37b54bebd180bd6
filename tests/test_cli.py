"""The `en-clinical-trials` console command and the library's entry points."""

import subprocess
import sys
from pathlib import Path

import spacy

BIN = Path(sys.executable).parent


def run(*args, **kwargs):
    return subprocess.run([str(BIN / "en-clinical-trials"), *args], capture_output=True, text=True, timeout=300, **kwargs)


def test_blank_pipeline_still_works_with_library_installed():
    # spacy_factories entry points are imported by spacy.blank(): a broken one breaks spaCy for everyone
    code = "import spacy; nlp = spacy.blank('en'); print(len(nlp('still works .')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "3"


def test_every_entry_point_imports_fast_and_cleanly():
    from importlib.metadata import entry_points

    ours = [ep for group in ("spacy_factories", "spacy_misc", "spacy_architectures")
            for ep in entry_points(group=group) if ep.value.startswith("ct_safety_nlp")]
    assert ours, "the library registers no entry points"
    code = (
        "import sys, time; import spacy; baseline = set(sys.modules); t = time.time()\n"
        "from importlib.metadata import entry_points\n"
        "for g in ('spacy_factories', 'spacy_misc', 'spacy_architectures'):\n"
        "    [ep.load() for ep in entry_points(group=g) if ep.value.startswith('ct_safety_nlp')]\n"
        "heavy = [m for m in ('torch', 'spacy_llm', 'ray', 'transformers', 'openpyxl') if m in sys.modules and m not in baseline]\n"
        "print(repr(heavy), round(time.time() - t, 2))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    heavy, seconds = out.stdout.rsplit(" ", 1)
    assert heavy == "[]", f"entry point modules import heavy packages at import time: {heavy}"


def test_factories_resolve_by_name_in_a_blank_pipeline():
    from importlib.metadata import entry_points

    nlp = spacy.blank("en")
    for ep in entry_points(group="spacy_factories"):
        if ep.value.startswith("ct_safety_nlp"):
            assert nlp.has_factory(ep.name), ep.name


def test_cli_help_lists_subcommands():
    out = run("--help")
    assert out.returncode == 0, out.stderr
    for sub in ("annotate", "generate", "info"):
        assert sub in out.stdout


def test_cli_info():
    out = run("info")
    assert out.returncode == 0, out.stderr
    assert "ct-safety-nlp" in out.stdout and "factories:" in out.stdout
