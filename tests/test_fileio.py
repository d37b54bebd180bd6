"""ct_safety_nlp.fileio.read_jsonl_texts: the JSON-lines reader of the
measurement scripts (bench's siblings: time_components, measure_int8,
gpu_check)."""

import pytest

from ct_safety_nlp.fileio import read_jsonl_text_rows, read_jsonl_texts


def test_text_then_context_in_order_blank_and_empty_passed_over(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text(
        '{"text": "Grade 3 neutropenia."}\n'
        "\n"
        '{"context": "Rash after amoxicillin.", "id": "1_2"}\n'
        '{"text": "   "}\n'
        '{"id": "no text"}\n'
        '{"text": "", "context": "Nausea on day 3."}\n',
        encoding="utf-8",
    )
    assert read_jsonl_texts(path) == ["Grade 3 neutropenia.", "Rash after amoxicillin.", "Nausea on day 3."]


@pytest.mark.parametrize("line, problem", [
    ("{not json", "not JSON"),
    ('["a list"]', "expected a JSON object with 'text' or 'context', got list"),
])
def test_a_bad_line_is_named_with_its_number(tmp_path, line, problem):
    path = tmp_path / "in.jsonl"
    path.write_text('{"text": "ok"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=problem) as err:
        read_jsonl_texts(path)
    assert str(err.value).startswith(f"{path}:2: ")


def test_first_n_or_cycled_to_n_rows_carry_ids(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text('{"text": "a", "id": "123_0"}\n{"context": "b"}\n', encoding="utf-8")
    assert read_jsonl_texts(path, 1) == ["a"]
    assert read_jsonl_texts(path, 5) == ["a", "b"]
    assert read_jsonl_texts(path, 5, cycle=True) == ["a", "b", "a", "b", "a"]
    assert read_jsonl_text_rows(path) == [{"id": "123_0", "text": "a"}, {"id": "2", "text": "b"}]


def test_a_file_without_texts_is_named(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text('\n{"id": 1}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"empty\.jsonl has no 'text' or 'context' fields"):
        read_jsonl_texts(path)
