"""Large files by URI in pieces: :mod:`timeline.spark.blocks`' three rounds with the pieces and
the parsed parts carried as Spark cells instead of files in a scratch folder.

A file named by path is read into pieces saved in a scratch folder beside the output, which every
executor reads by path. A file by URI has no such folder (executors cannot write to the URI's
file system), so its rounds pass their data through Spark:

1. **read**: a task gets the file's bytes (``binaryFile``), runs
   :func:`timeline.spark.blocks.read_pieces` into a local temporary folder and returns each
   piece's two Arrow files as cells (``piece-lines``, ``piece-bad``) and one ``read`` cell
   with the pieces and the file's statistics;
2. **parse**: the piece cells repartitioned by piece; a task writes a piece's cells back to
   local files and runs :func:`timeline.spark.parse.run_piece` (``run_file`` on the piece) and
   returns the ``piece`` cell (outcome and carry, as for a file by path) and its event and reject
   parts as cells (``part-events``, ``part-rejects``);
3. **finish**: the part cells repartitioned by piece; a task writes them back to local files and
   runs :func:`timeline.spark.parse.finish_piece` with the carry the driver chained.

The code that reads, parses and finishes is the one a file by path runs; only where the bytes
wait between rounds differs.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pyarrow as pa

from timeline.spark.blocks import Piece, carry_json, piece_carry
from timeline.spark.frames import blob_batch
from timeline.spark.parse import (
    PIECE,
    PIECE_SHIFT,
    READ,
    ParseContext,
    TaskSpec,
    account_json,
    finish_piece,
    read_local,
    run_piece,
)
from timeline.spark.remote_in import saved_inputs

PIECE_LINES: Final = "piece-lines"
PIECE_BAD: Final = "piece-bad"
PART_EVENTS: Final = "part-events"
PART_REJECTS: Final = "part-rejects"
Cell = tuple[int, int, str, bytes]


def _spec(text: str) -> tuple[TaskSpec, dict[str, Any]]:
    raw = json.loads(text)
    return TaskSpec.from_dict(raw.pop("file")), raw


def read_partition(context: ParseContext, specs: dict[str, str]) -> Any:
    """Round 1 over ``content_frame`` rows (``specs``: URI to its task row)."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for text, folder in saved_inputs(batches, specs, "timeline-spark-read-"):
            spec, _ = _spec(text)
            spec = dataclasses.replace(spec, path=str(folder / "input"))
            pieces, stats = read_local(spec, context, folder)
            for piece in pieces:
                lines = Path(piece.lines_path).read_bytes()
                bad = Path(piece.bad_path).read_bytes()
                yield blob_batch([(spec.index, 2 * piece.number, PIECE_LINES, lines)])
                yield blob_batch([(spec.index, 2 * piece.number + 1, PIECE_BAD, bad)])
            shape = [
                {"number": p.number, "blocks": p.blocks, "text_bytes": p.text_bytes} for p in pieces
            ]
            payload = json.dumps({"pieces": shape, "stats": stats}).encode()
            yield blob_batch([(spec.index, 0, READ, payload)])

    return run


def _groups(batches: Iterator[pa.RecordBatch], shift: int) -> dict[tuple[int, int], list[Cell]]:
    """A partition's cells grouped by (file, piece), the piece being ``seq >> shift``."""
    groups: dict[tuple[int, int], list[Cell]] = defaultdict(list)
    for batch in batches:
        for key, seq, kind, payload in zip(
            batch.column("key").to_pylist(),
            batch.column("seq").to_pylist(),
            batch.column("kind").to_pylist(),
            batch.column("payload").to_pylist(),
            strict=True,
        ):
            groups[(key, seq >> shift)].append((key, seq, kind, payload))
    return groups


def parse_partition(context: ParseContext, tasks: dict[tuple[int, int], str]) -> Any:
    """Round 2 over the piece cells (``tasks``: (file, piece) to its piece task row)."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for (index, number), cells in sorted(_groups(batches, 1).items()):
            spec, raw = _spec(tasks[(index, number)])
            with tempfile.TemporaryDirectory(prefix="timeline-spark-piece-") as tmp:
                folder = Path(tmp)
                saved = {kind: folder / f"{kind}.arrow" for kind in (PIECE_LINES, PIECE_BAD)}
                for _, _, kind, data in cells:
                    saved[kind].write_bytes(data)
                shape = raw["piece"]
                piece = Piece(
                    number,
                    str(saved[PIECE_LINES]),
                    str(saved[PIECE_BAD]),
                    int(shape["blocks"]),
                    int(shape["text_bytes"]),
                )
                parts = folder / "parts"
                parts.mkdir()
                outcome = run_piece(spec, piece, context, parts)
                payload = {
                    "outcome": json.loads(account_json(outcome)),
                    "in_order": outcome.rejects_in_order,
                    "carry": carry_json(piece_carry(outcome.event_parts)),
                }
                yield blob_batch([(index, number, PIECE, json.dumps(payload).encode())])
                base = number << PIECE_SHIFT
                for kind, files in (
                    (PART_EVENTS, outcome.event_parts),
                    (PART_REJECTS, outcome.reject_parts),
                ):
                    for j, part in enumerate(files):
                        yield blob_batch([(index, base + j, kind, part.read_bytes())])

    return run


def finish_partition(context: ParseContext, tasks: dict[tuple[int, int], str]) -> Any:
    """Round 3 over the part cells (``tasks``: (file, piece) to its finish task row, without
    the part files, which come from the cells)."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for (index, number), cells in sorted(_groups(batches, PIECE_SHIFT).items()):
            spec, raw = _spec(tasks[(index, number)])
            with tempfile.TemporaryDirectory(prefix="timeline-spark-finish-") as tmp:
                found: dict[str, list[str]] = {PART_EVENTS: [], PART_REJECTS: []}
                for _, seq, kind, payload in sorted(cells, key=lambda c: c[1]):
                    path = Path(tmp) / f"{kind}-{seq}.arrow"
                    path.write_bytes(payload)
                    found[kind].append(str(path))
                task = {**raw, "events": found[PART_EVENTS], "rejects": found[PART_REJECTS]}
                for cell in finish_piece(spec, task, context):
                    yield blob_batch([cell])

    return run
