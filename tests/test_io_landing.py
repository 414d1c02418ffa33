"""The landing reader's split of one file into lines (pure Python: no Spark needed)."""

from __future__ import annotations

import gzip
import json

from slatehouse.io import _split_file


def lines(path: str, content: bytes) -> list[tuple[int, str, str | None]]:
    out = []
    for batch in _split_file(path, content):
        rows = batch.to_pydict()
        out += list(zip(rows["_line_number"], rows["line"], rows["line_error"]))
    return out


def event(n: int) -> str:
    return json.dumps({"event_id": f"e{n}", "title_id": "f1"})


def jsonl(*numbers: int) -> bytes:
    return "".join(event(n) + "\n" for n in numbers).encode()


def test_every_member_of_a_multi_member_gzip_is_read():
    content = gzip.compress(jsonl(1, 2)) + gzip.compress(jsonl(3, 4, 5))  # `cat a.gz b.gz`
    assert [text for _, text, _ in lines("a.jsonl.gz", content)] == [event(n) for n in (1, 2, 3, 4, 5)]


def test_a_gzip_cut_short_keeps_its_complete_lines_and_says_why():
    content = gzip.compress(jsonl(*range(2000)), compresslevel=1)
    out = lines("a.jsonl.gz", content[: len(content) // 2])
    *complete, (n, _, error) = out
    assert complete and all(err is None for _, _, err in complete)
    assert n == len(out) and error.startswith("truncated_file: gzip data ends early")


def test_a_corrupt_gzip_keeps_the_lines_before_the_fault():
    content = bytearray(gzip.compress(jsonl(*range(20000)), compresslevel=1))
    middle = len(content) // 2
    content[middle:middle + 8] = b"\xff" * 8
    out = lines("a.jsonl.gz", bytes(content))
    assert len(out) > 100  # the decoded prefix is not thrown away
    assert out[-1][2].startswith("truncated_file: gzip data corrupt after")
    assert all(err is None for _, _, err in out[:-1])


def test_a_small_corrupt_gzip_keeps_what_it_can():
    content = bytearray(gzip.compress(jsonl(*range(50))))
    middle = len(content) // 2
    content[middle:middle + 8] = b"\xff" * 8
    out = lines("a.jsonl.gz", bytes(content))
    assert len(out) > 1 and out[-1][2].startswith("truncated_file: gzip data corrupt after")


def test_a_plain_file_named_gz_is_one_line_that_says_it_is_not_gzip():
    assert lines("a.jsonl.gz", jsonl(1, 2)) == [(1, "", "truncated_file: not a gzip file")]


def test_a_byte_order_mark_does_not_cost_the_first_event():
    assert lines("a.jsonl", b"\xef\xbb\xbf" + jsonl(1, 2)) == [(1, event(1), None), (2, event(2), None)]


def test_a_line_with_more_than_one_json_value_is_refused_whole():
    joined = f"{event(1)}{event(2)}\n{event(3)} trailing\n{event(4)}\r{event(5)}\n{event(6)}\n"
    tricky = json.dumps({"event_id": "e7", "title": "a} {b"}) + "\n"  # braces inside a string
    out = lines("a.jsonl", (joined + tricky).encode())
    refused = "malformed_json: content after the JSON object"
    assert [err for _, _, err in out] == [refused, refused, refused, None, None]
