"""Golden pairs: every ``parsers/<group>/<name>/golden/<case>.*`` beside ``<case>.expected.jsonl``.

Run ``pytest tests/test_golden.py --update-golden`` (or ``timeline parsers test NAME --update``)
to rewrite the expected files, then read the diff. A ``<case>.toml`` beside the input is used as
that case's ``timeline.toml``. Detection must pick the folder's parser for every case whose name
does not start with ``bad``.
"""

from __future__ import annotations

from typing import Any

import pytest

from timeline.ingest.reader import InputReader
from timeline.parse.detect import detect
from timeline.parse.registry import default_registry
from timeline.pipeline.golden import GoldenCase, check_case, golden_lines, registry_cases, run_one

REGISTRY = default_registry(plugins=False)
CASES = registry_cases(REGISTRY)


def _id(case: GoldenCase) -> str:
    return f"{case.parser}/{case.input.name}"


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_golden(case: GoldenCase, update_golden: bool) -> None:
    problem = check_case(case, REGISTRY, update=update_golden)
    if problem is not None and not (update_golden and problem.startswith("wrote ")):
        pytest.fail(f"{case.input.name}: {problem}\n(rerun with --update-golden and read the diff)")


DETECTABLE = [c for c in CASES if not c.expects_rejects_only]


@pytest.mark.parametrize("case", DETECTABLE, ids=_id)
def test_detection_picks_the_folder_parser(case: GoldenCase) -> None:
    sample, binary = InputReader(case.input, case.input.name).head()
    assert not binary
    chosen = detect(REGISTRY, sample)
    assert chosen.parser.name == case.parser


CHUNKED = [
    c
    for c in CASES
    if any(getattr(REGISTRY.get(c.parser), attr, None) for attr in ("record_start", "cut"))
]


@pytest.mark.slow  # the default suite keeps test_block_parallel's fast subset
@pytest.mark.parametrize("case", CHUNKED, ids=_id)
def test_multiline_parsers_give_the_same_result_in_chunks(
    case: GoldenCase, monkeypatch: pytest.MonkeyPatch
) -> None:
    from timeline.parse import chunks

    whole = golden_lines(run_one(case.input, case.parser, case.config))
    monkeypatch.setattr(chunks, "CHUNK_LINES", 2)
    # blocks of a few lines, so that chunks really end inside the file
    original = InputReader.__init__

    def small_blocks(self: InputReader, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.block_bytes = 300

    monkeypatch.setattr(InputReader, "__init__", small_blocks)
    chunked = golden_lines(run_one(case.input, case.parser, case.config))
    assert chunked == whole
