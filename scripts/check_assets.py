"""Verify every asset in project.yml against its sha256 (and say what is missing).

    python scripts/check_assets.py [project.yml]

Exit status 1 when a file is missing or its digest differs, naming the file,
the expected and the actual digest. (`spacy project assets` checks the MD5 in
`checksum`; the sha256 in `sha256` is the digest the data's README publishes.)
"""

import sys
from pathlib import Path

import srsly

from ct_safety_nlp.kb import file_sha256 as sha256


def main(project_path: str = "project.yml") -> int:
    project_file = Path(project_path)
    root = project_file.parent
    problems = []
    for asset in srsly.read_yaml(project_file).get("assets", []):
        dest, expected = root / asset["dest"], asset.get("sha256")
        if not dest.exists():
            problems.append(f"{dest}: missing (run `spacy project assets`, or copy it from ../shared/data)")
        elif expected and sha256(dest) != expected:
            problems.append(f"{dest}: sha256 {sha256(dest)} != expected {expected}")
    for problem in problems:
        print(f"check_assets: {problem}", file=sys.stderr)
    if not problems:
        print("check_assets: all assets present, sha256 verified")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
