"""JSON lines decoded once (``decode_lines``, ``decode_paths``, the spec ``jsonl`` reader) give
exactly what one ``json_path_match`` per path gave, on lines with odd values."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import polars as pl
import pytest

from timeline.parserkit import jsonpaths
from timeline.parserkit.jsonpaths import (
    OBJECT_COLUMN,
    ROOT,
    column_name,
    decode_lines,
    decode_paths,
    dotted_path,
    is_json_object,
    key_path,
)
from timeline.parserkit.spec.parser import SpecParser
from timeline.parserkit.spec.readers import extract

NGINX_SPEC = (
    Path(__file__).resolve().parents[1] / "parsers" / "gateway" / "nginx_json" / "spec.toml"
)

KEYS = ("a", "b", "status", "msg", "x y", 'q"k', "é")
PATHS = [key_path(k) for k in KEYS] + ["$.n.m", "$.n.k"]

# Lines that are valid JSON objects (so that a batch of them takes the one-decode path).
VALID = [
    '{"a":"x","b":"1","status":"200"}',
    '{"a": "spaced" , "b" : "2" }',
    '{"a":1,"b":-2,"status":200}',
    '{"a":1.0,"b":1.50,"status":1e5}',
    '{"a":-0,"b":-0.0,"status":0}',
    '{"a":12345678901234567890123,"b":-9223372036854775809,"status":18446744073709551615}',
    '{"a":1e-7,"b":0.30000000000000004,"status":-1E+2}',
    '{"a":true,"b":false,"status":null}',
    '{"a":"q\\"u\\\\","msg":"tab\\tnew\\nline \\/ \\u00e9"}',
    '{"a":"x","a":"last wins"}',
    '{"a":"x","b":null,"a":null}',
    '{"\\u0061":"escaped key","b":"1","b":"2"}',
    '{"x y":"space key","q\\"k":"quote key","é":"accent"}',
    '{"a":"\\ud83d\\ude00 emoji"}',
    '{"n":{"m":"inner","k":2.0}}',
    '{"n":{"m":"first"},"n":{"k":"second"}}',
    '{"n":{},"a":""}',
    '{"n":{"m":"first"},"n":null}',
    '{"a":null,"a":"later"}',
    '{"a" : null , "b":"x"}',
    '{"msg":"\\"a\\":1.5 inside a string","a":"1"}',
    '{"other":{"a":"nested a","b":1.25},"a":"top"}',
    '{"a":"' + "y" * 20000 + '","status":"long"}',
    '{"d":' + "[" * 70 + "]" * 70 + ',"a":"deep but valid"}',
    '{"d":' + "[" * 130 + "]" * 130 + ',"a":"too deep for json_path_match"}',
    '{"a":"\\ud83dx unpaired surrogate"}',
    '\t {"a":"leading blanks"}',
    '{"a":"trailing blanks"} \r',
    "{}",
]
# Values of another type than the paths say, and lines that are no JSON object.
ODD = [
    '{"a":{"nested":[1, 2.0]},"b":[1, {"c":"d"}],"status":"ok"}',
    '{"n":"text where an object belongs","a":"z"}',
    '{"n":[1,2],"a":"list where an object belongs"}',
    "not json at all",
    '{"a":"x"} trailing text',
    '{"a":"x"',
    "\ufeff" + '{"a":"bom"}',
    "[1,2]",
    '"just a string"',
    "",
    "   ",
    '{"a":"x",}',
    "{'a': 'python'}",
    '{"a":NaN}',
    '{"a":01}',
]


def reference(lines: Sequence[str], paths: Sequence[str]) -> pl.DataFrame:
    """One ``json_path_match`` per path and ``is_json_object``: what the parsers read before."""
    s = pl.Series("line", list(lines), dtype=pl.String)
    return s.to_frame().select(
        is_json_object(pl.col("line")).alias(OBJECT_COLUMN),
        *[pl.col("line").str.json_path_match(p).alias(column_name(p)) for p in paths],
    )


def check_lines(lines: Sequence[str], paths: Sequence[str]) -> None:
    got = decode_lines(pl.Series(list(lines), dtype=pl.String), paths)
    want = reference(lines, paths)
    for name in want.columns:
        g, w = got.get_column(name).to_list(), want.get_column(name).to_list()
        for i, (a, b) in enumerate(zip(g, w, strict=True)):
            assert a == b, f"{name} of {lines[i]!r}: {a!r} != {b!r}"


@pytest.mark.parametrize("line", VALID + ODD)
def test_each_line_alone(line: str) -> None:
    check_lines([line], PATHS)


def test_valid_batch_one_decode(monkeypatch: pytest.MonkeyPatch) -> None:
    again: list[int] = []
    original = jsonpaths._via_whole

    def spy(lines: pl.Series, paths: Sequence[str]) -> pl.DataFrame:
        again.append(lines.len())
        return original(lines, paths)

    monkeypatch.setattr(jsonpaths, "_via_whole", spy)
    check_lines(VALID, PATHS)
    # one decode for the batch; only the suspicious lines are read again
    assert len(again) == 1 and again[0] < len(VALID) / 2


def test_mixed_batch_falls_back() -> None:
    check_lines(VALID + ODD + VALID[::-1], PATHS)


def test_random_objects() -> None:
    """Objects assembled at random from keys of the paths (repeated, nested, null, numbers,
    strings, containers, blanks): the same values as ``json_path_match``, in one batch and
    alone when the batch falls back."""
    rng = random.Random(15)
    values = ['"s"', '"1.0"', "1", "1.0", "-0", "2e3", "null", "true", '{"m":"v"}', "[1,2.0]"]
    values += ['{"m":null}', '{"k":1.5,"m":"w"}', '""', '"a\\"b"']
    keys = ['"a"', '"b"', '"n"', '"m"', '"status"', '"z"', '"\\u0061"']
    lines = []
    for _ in range(300):
        pairs = [
            f"{rng.choice(keys)}{rng.choice([':', ' : '])}{rng.choice(values)}"
            for _ in range(rng.randint(0, 5))
        ]
        lines.append("{" + rng.choice([",", ", "]).join(pairs) + "}")
    check_lines(lines, PATHS)
    scalar = [line for line in lines if "{" not in line[1:] and "[" not in line]
    check_lines(scalar, [key_path(k) for k in KEYS])


def test_paths_through_lists_and_conflicts() -> None:
    lines = [
        '{"l":[{"k":"a"},{"k":"b"}],"s":5,"p":{"q":1}}',
        '{"l":"no list","s":[1,2],"p":"text"}',
        '{"l":[1,{"k":2.0}],"s":{"t":1}}',
    ]
    check_lines(lines, ["$.l[0].k", "$.l[-1:].k", "$.s[0]", "$.p", "$.p.q"])


def test_decode_paths_matches_json_path_match() -> None:
    lines = VALID + ODD
    s = pl.Series(lines, dtype=pl.String)
    got = decode_paths(s, [*PATHS, "$.d[0]"])
    for path in [ROOT, *PATHS, "$.d[0]"]:
        want = s.str.json_path_match(path).to_list()
        assert got.get_column(column_name(path)).to_list() == want, path


def test_spec_jsonl_reader_same_fields() -> None:
    parser = SpecParser.from_file(NGINX_SPEC)
    lines = [
        *VALID,
        *ODD,
        '{"time_iso8601":"2025-03-02T10:15:04+00:00","remote_addr":"203.0.113.7",'
        '"status":200,"request_time":0.50,"upstream_status":{"a":1},"bytes":1.0}',
        '{"@timestamp":"2025-03-02T10:15:04Z","status_code":"404","rt":"-","user":"u",'
        '"status":"404","status":"502"}',
    ]
    frame = pl.DataFrame(
        {"source_line": list(range(1, len(lines) + 1)), "line": lines},
        schema={"source_line": pl.Int64, "line": pl.String},
    )
    got = extract(parser.spec, frame).frame
    bases = [c for c in got.columns if c != "_ok"]
    want = reference(lines, [dotted_path(b) for b in bases])
    assert got.get_column("_ok").to_list() == want.get_column(OBJECT_COLUMN).to_list()
    for b in bases:
        assert got.get_column(b).to_list() == want.get_column(column_name(dotted_path(b))).to_list()
