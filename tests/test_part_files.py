"""Event part files leave out their all-null columns; every reader gets them back as typed nulls.

The local build reads a part through ``conform`` (:func:`timeline.pipeline.build.event_tables`);
the Spark engine reads it with ``pl.read_ipc`` and runs ``inherit`` before ``conform``
(:func:`timeline.spark.blocks.finished_events`) and reads the carry columns by name
(:func:`timeline.spark.blocks.piece_carry`): the columns those need stay in the part.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from polars.testing import assert_frame_equal

from timeline.normalize.content import finish
from timeline.normalize.inherit import Carry, inherit
from timeline.pipeline.build import _event_table
from timeline.pipeline.files import PART_KEEPS, _PartWriter, part_columns
from timeline.schema import POLARS_SCHEMA, conform, to_arrow
from timeline.spark.blocks import finished_events, piece_carry

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _events() -> pl.DataFrame:
    """Three canonical events of one file, the second without a time; most columns all null."""
    return conform(
        pl.DataFrame(
            {
                "source_file": ["a.log"] * 3,
                "source_line": [1, 2, 3],
                "parser": ["vllm"] * 3,
                "ts_source": [T0, None, T0],
                "ts": [T0, None, T0],
                "layer": ["inference"] * 3,
                "event_type": ["model_load", "request", "request"],
                "message": ["a", None, "c"],
                "input_tokens": [None, 5, None],
            },
            schema_overrides={"ts_source": POLARS_SCHEMA["ts_source"], "ts": POLARS_SCHEMA["ts"]},
        )
    )


def test_part_leaves_out_all_null_columns_but_keeps_what_readers_need() -> None:
    frame = _events()
    part = part_columns(frame)
    assert "message" in part.columns and "input_tokens" in part.columns
    assert "provider" not in part.columns and "doc_ids" not in part.columns
    assert set(part.columns) >= PART_KEEPS
    assert part.columns == [c for c in frame.columns if c in part.columns]
    empty = frame.clear()
    assert part_columns(empty).columns == empty.columns


def test_part_read_back_equals_the_frame(tmp_path: Path) -> None:
    frame = _events()
    path = _PartWriter(tmp_path, 0).write(frame, "events")
    assert pl.read_ipc(path).width < frame.width
    back = conform(pl.read_ipc(path))
    assert back.schema == POLARS_SCHEMA
    assert_frame_equal(back, frame)
    expected = to_arrow(finish(frame, "0" * 64, b"salt", True))
    assert _event_table(path, "0" * 64, b"salt", True).equals(expected)


def test_spark_readers_cope_with_a_narrow_part(tmp_path: Path) -> None:
    frame = _events()
    path = _PartWriter(tmp_path, 0).write(frame, "events")
    carry = Carry(ts=T0, assumed_tz=False, precision_ms=1.0, model="m", model_revision="r1")
    got = list(finished_events([path], carry, "0" * 64, b"salt", True))
    inherited, _ = inherit(frame, carry)
    assert got[0].equals(to_arrow(finish(conform(inherited), "0" * 64, b"salt", True)))
    assert piece_carry([path]).ts == T0


def test_reject_parts_keep_every_column(tmp_path: Path) -> None:
    rejects = pl.DataFrame(
        {"source_line": [4], "reason": ["bad"], "excerpt": [None], "line_length": [0]},
        schema={
            "source_line": pl.Int64,
            "reason": pl.String,
            "excerpt": pl.String,
            "line_length": pl.Int64,
        },
    )
    path = _PartWriter(tmp_path, 0).write(rejects, "rejects")
    assert_frame_equal(pl.read_ipc(path), rejects)
