"""The library wheel ships every subpackage, every shipped table and template
(setuptools finds the packages; nothing is listed by hand)."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LIBRARY = REPO / "components" / "ct_safety_nlp"


@pytest.mark.slow
def test_the_wheel_ships_every_subpackage_and_table(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(REPO)],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (wheel,) = tmp_path.glob("ct_safety_nlp-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    packages = sorted(p.parent.relative_to(LIBRARY.parent).as_posix() for p in LIBRARY.rglob("__init__.py"))
    assert len(packages) >= 10
    for package in packages:
        assert f"{package}/__init__.py" in names, package
    sources = [p for p in LIBRARY.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"]
    missing = [p.relative_to(LIBRARY.parent).as_posix() for p in sources if p.relative_to(LIBRARY.parent).as_posix() not in names]
    assert missing == [], f"files of the library missing from the wheel: {missing}"
    assert any(n.startswith("ct_safety_nlp/resources/") and n.endswith("lab_rules.yml") for n in names)
