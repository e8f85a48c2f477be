"""What the events' scratch file costs against Parquet: write, read by row range, size.

    python -m benchmarks.scratch_io EVENTS.parquet [--ranges 45]

Reads an events table (``events.parquet`` of a ``--no-correlate`` build, or a timeline), then
writes it as Parquet (as ``events.parquet`` was written) and as Arrow IPC with zstd, lz4 and no
compression (``timeline.io.eventsfile``), and reads each back in ``--ranges`` row ranges, three
columns and all columns, as correlation does. Prints CPU seconds of this process per operation
and the sizes; the files go to a temporary folder beside nothing else.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from timeline.io.eventsfile import SCRATCH_BATCH_ROWS
from timeline.io.parquet import ROW_GROUP_ROWS, write_tables
from timeline.schema import ARROW_SCHEMA


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _report(name: str, cpu: float, wall: float, extra: str = "") -> None:
    print(f"{name:44s} cpu {_cpu() - cpu:7.1f} s  wall {time.time() - wall:7.1f} s  {extra}")


def _reads(scan: pl.LazyFrame, rows: int, ranges: int, label: str) -> None:
    span = max(1, -(-rows // ranges))
    for columns in (["ids", "ts_source", "layer"], None):
        cpu, wall = _cpu(), time.time()
        for part in range(ranges):
            frame = scan if columns is None else scan.select(columns)
            frame.slice(part * span, span).collect()
        which = "all columns" if columns is None else "3 columns"
        _report(f"read {label}, {which}, {ranges} ranges", cpu, wall)


def main(argv: list[str] | None = None) -> int:
    """Measure and print; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("events", type=Path)
    parser.add_argument("--ranges", type=int, default=45)
    args = parser.parse_args(argv)
    table = pq.read_table(args.events).cast(ARROW_SCHEMA)
    rows = table.num_rows
    batches = [table.slice(i, ROW_GROUP_ROWS) for i in range(0, rows, ROW_GROUP_ROWS)]
    print(f"{rows} events, {table.nbytes / 1e6:.0f} MB as Arrow")
    with tempfile.TemporaryDirectory(prefix="timeline-scratch-io-") as tmp:
        target = Path(tmp) / "events.parquet"
        cpu, wall = _cpu(), time.time()
        write_tables(target, ARROW_SCHEMA, iter(batches), {})
        _report("write Parquet (write_tables)", cpu, wall, f"{target.stat().st_size / 1e6:.0f} MB")
        _reads(pl.scan_parquet(target), rows, args.ranges, "Parquet")
        target.unlink()
        for compression in ("zstd", "lz4", None):
            path = Path(tmp) / f"events-{compression}.arrow"
            cpu, wall = _cpu(), time.time()
            options = ipc.IpcWriteOptions(compression=compression)
            with (
                pa.OSFile(str(path), "wb") as sink,
                ipc.new_file(sink, table.schema, options=options) as out,
            ):
                for batch in batches:
                    out.write_table(batch, max_chunksize=SCRATCH_BATCH_ROWS)
            size = f"{path.stat().st_size / 1e6:.0f} MB"
            _report(f"write Arrow IPC {compression or 'uncompressed'}", cpu, wall, size)
            _reads(pl.scan_ipc(path), rows, args.ranges, f"IPC {compression}")
            path.unlink()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
