"""The minimisation state file: a crash (SIGKILL at any point, or exactly before / after the rename)
never loses or duplicates an allocation; concurrent writers are serialised; edits are detected; the
allocations replay from the seed."""

import json
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from ct_safety_nlp.trial.allocation import AllocationError, allocate, create_state, read_state, verify_state
from ct_safety_nlp.trial.allocation.state import canonical_json, chain_hash

DESIGN = {"arms": ["A", "B"], "factors": {"sex": ["F", "M"], "site": ["01", "02", "03"]}, "p": 0.8, "seed": 12}


def _subject(i):
    return {"sex": "FM"[i % 2], "site": ["01", "02", "03"][(i * 7) % 3]}


def _child(code, *args, **kwargs):
    script = textwrap.dedent(code)
    return subprocess.Popen([sys.executable, "-c", script, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


@pytest.fixture()
def state_file(tmp_path):
    path = tmp_path / "state.jsonl"
    create_state(path, DESIGN)
    return path


def test_create_allocate_read_verify(state_file):
    for i in range(12):
        record, new = allocate(state_file, _subject(i), subject_id=f"S{i}")
        assert new and record["index"] == i + 1
    state = read_state(state_file)
    assert [r["id"] for r in state["allocations"]] == [f"S{i}" for i in range(12)]
    assert state["design"]["seed"] == 12 and state["header"]["versions"]["ct_safety_nlp"]
    assert verify_state(state_file) == {"allocations": 12, "problems": []}


def test_same_id_returns_the_recorded_allocation_and_writes_nothing(state_file):
    first, new = allocate(state_file, _subject(0), subject_id="S0")
    before = state_file.read_bytes()
    again, new_again = allocate(state_file, _subject(0), subject_id="S0")
    assert new and not new_again and again == first
    assert state_file.read_bytes() == before
    with pytest.raises(AllocationError, match="was allocated .* not"):
        allocate(state_file, {"sex": "M", "site": "03"}, subject_id="S0")


def test_create_refuses_an_existing_file_and_allocate_a_missing_one(state_file, tmp_path):
    with pytest.raises(AllocationError, match="already exists"):
        create_state(state_file, DESIGN)
    with pytest.raises(AllocationError, match="no such state file"):
        allocate(tmp_path / "nope.jsonl", _subject(0))


def test_bad_subject_is_refused_and_nothing_written(state_file):
    before = state_file.read_bytes()
    with pytest.raises(AllocationError, match="site=09 is not a level"):
        allocate(state_file, {"sex": "F", "site": "09"})
    with pytest.raises(AllocationError, match="no value for factor site"):
        allocate(state_file, {"sex": "F"})
    assert state_file.read_bytes() == before


def test_edited_removed_or_reordered_lines_are_detected(state_file):
    for i in range(5):
        allocate(state_file, _subject(i), subject_id=f"S{i}")
    lines = state_file.read_text().splitlines()
    tampered = state_file.with_name("t.jsonl")

    edited = json.loads(lines[2])
    edited["arm"] = "B" if edited["arm"] == "A" else "A"
    tampered.write_text("\n".join(lines[:2] + [canonical_json(edited)] + lines[3:]) + "\n")
    with pytest.raises(AllocationError, match=r"t.jsonl:3: checksum chain broken"):
        read_state(tampered)

    tampered.write_text("\n".join(lines[:2] + lines[3:]) + "\n")
    with pytest.raises(AllocationError, match=r"t.jsonl:3: checksum chain broken"):
        read_state(tampered)

    tampered.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:20])
    with pytest.raises(AllocationError, match=r"t.jsonl:6: last line is incomplete"):
        read_state(tampered)

    tampered.write_text("\n".join(lines) + "\nnot json\n")
    with pytest.raises(AllocationError, match=r"t.jsonl:7: not JSON"):
        read_state(tampered)


def test_a_forged_arm_with_a_recomputed_chain_fails_verify(state_file):
    for i in range(4):
        allocate(state_file, _subject(i), subject_id=f"S{i}")
    records = [json.loads(line) for line in state_file.read_text().splitlines()]
    records[2]["arm"] = "B" if records[2]["arm"] == "A" else "A"
    previous = "0" * 64
    for r in records:
        r["chain"] = chain_hash(previous, r)
        previous = r["chain"]
    state_file.write_text("".join(canonical_json(r) + "\n" for r in records))
    result = verify_state(state_file)
    assert result["allocations"] == 4
    assert any("allocation #2 arm" in p for p in result["problems"])


def test_not_a_state_file(tmp_path):
    path = tmp_path / "other.jsonl"
    path.write_text('{"hello": 1}\n')
    with pytest.raises(AllocationError, match="other.jsonl:1: checksum chain broken"):
        read_state(path)
    path.write_text("")
    with pytest.raises(AllocationError, match="empty state file"):
        read_state(path)


KILL_AT_RENAME = """
import os, signal, sys
from ct_safety_nlp.trial.allocation import allocate
def die(src, dst):
    os.kill(os.getpid(), signal.SIGKILL)
os.replace = die
allocate(sys.argv[1], {"sex": "F", "site": "02"}, subject_id="S-crash")
"""

KILL_AFTER_RENAME = """
import os, signal, sys
from ct_safety_nlp.trial.allocation import allocate, state
real = state.write_atomic
def write_then_die(path, data):
    real(path, data)
    os.kill(os.getpid(), signal.SIGKILL)
state.write_atomic = write_then_die
allocate(sys.argv[1], {"sex": "F", "site": "02"}, subject_id="S-crash")
"""


def test_killed_just_before_the_rename_loses_nothing_and_leaves_the_file_unchanged(state_file):
    for i in range(3):
        allocate(state_file, _subject(i), subject_id=f"S{i}")
    before = state_file.read_bytes()
    child = _child(KILL_AT_RENAME, state_file)
    child.communicate(timeout=120)
    assert child.returncode == -signal.SIGKILL
    assert state_file.read_bytes() == before  # the allocation was never made (and never reported)
    assert list(state_file.parent.glob(".state.jsonl.*.tmp"))  # the killed writer's temporary file
    record, new = allocate(state_file, {"sex": "F", "site": "02"}, subject_id="S-crash")
    assert new and record["index"] == 4
    assert not list(state_file.parent.glob(".state.jsonl.*.tmp"))  # removed under the lock
    assert verify_state(state_file)["problems"] == []


def test_killed_just_after_the_rename_the_retry_does_not_allocate_twice(state_file):
    for i in range(3):
        allocate(state_file, _subject(i), subject_id=f"S{i}")
    child = _child(KILL_AFTER_RENAME, state_file)
    child.communicate(timeout=120)
    assert child.returncode == -signal.SIGKILL
    state = read_state(state_file)
    assert [r["id"] for r in state["allocations"]][-1] == "S-crash"  # written, though never reported
    record, new = allocate(state_file, {"sex": "F", "site": "02"}, subject_id="S-crash")  # the user retries
    assert not new and record == state["allocations"][-1]
    assert len(read_state(state_file)["allocations"]) == 4


LOOP = """
import sys
from ct_safety_nlp.trial.allocation import allocate
path, start = sys.argv[1], int(sys.argv[2])
for i in range(start, start + 100000):
    subject = {"sex": "FM"[i % 2], "site": ["01", "02", "03"][(i * 7) % 3]}
    record, new = allocate(path, subject, subject_id=f"S{i}")
    print(record["id"], record["arm"], record["index"], flush=True)
"""


def test_sigkill_at_random_moments_never_loses_or_duplicates(state_file):
    reported = {}
    unreported = set()
    start = 0
    for delay in (0.3, 0.6, 0.45):
        child = _child(LOOP, state_file, start)
        first = child.stdout.readline()  # started allocating
        assert first, child.stderr.read()
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        out, _ = child.communicate(timeout=60)
        for line in (first + out).splitlines():
            sid, arm, index = line.split()
            reported[sid] = (arm, int(index))
        state = read_state(state_file)  # parses: never a torn or half-written file
        recorded = {r["id"]: (r["arm"], r["index"]) for r in state["allocations"]}
        assert [r["index"] for r in state["allocations"]] == list(range(1, len(recorded) + 1))
        assert len(recorded) == len(state["allocations"])  # no id twice
        for sid, value in reported.items():
            assert recorded[sid] == value  # every allocation reported to the user is in the file, unchanged
        new_unreported = set(recorded) - set(reported) - unreported
        assert len(new_unreported) <= 1  # at most the one written but killed before it was printed ...
        if new_unreported:  # ... which is then the last allocation in the file
            assert recorded[new_unreported.pop()][1] == len(recorded)
        unreported = set(recorded) - set(reported)
        start = max(int(s[1:]) for s in recorded) + 1
    assert len(reported) > 20
    assert verify_state(state_file)["problems"] == []


def test_concurrent_writers_are_serialised(state_file):
    children = [_child(LOOP.replace("range(start, start + 100000)", "range(start, start + 10)"), state_file, s) for s in (0, 1000)]
    for child in children:
        out, err = child.communicate(timeout=300)
        assert child.returncode == 0, err
    state = read_state(state_file)
    assert len(state["allocations"]) == 20
    assert len({r["id"] for r in state["allocations"]}) == 20
    assert verify_state(state_file)["problems"] == []
