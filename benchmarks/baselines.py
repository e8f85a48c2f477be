"""Hand-written baselines: the minimum work equivalent to ``timeline build`` on the corpus.

Both read every file of the corpus (plain or gzip), extract from each line (each span of an OTLP
document) its timestamp, layer, request id and a few fields (status, duration, one detail such as
the model or the verdict), union the sources into one table, sort it by request id and time and write it as zstd Parquet. That
is what an engineer would write by hand for this one corpus: one regular expression or one JSON
schema per known format, no detection, no line accounting, no rejects, no canonical schema, no
correlation. Every line must become a row; :func:`run` returns the row count and the runner checks
it against the corpus.

    python -m benchmarks.baselines duckdb|polars CORPUS_DIR OUT.parquet
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import duckdb
import polars as pl

from benchmarks.corpus import MANIFEST, Corpus, Format

# The columns every baseline writes, in this order.
COLUMNS: Final = ("ts", "layer", "source", "request_id", "status", "duration_ms", "detail")
# A byte that never occurs in the corpus: reading a text log "as CSV" with it as the separator
# and quoting off yields one column holding the whole line.
NO_SEP: Final = "\x1f"

NGINX_RE: Final = r'^(\S+) \S+ \S+ \[([^\]]+)\] "[^"]*" (\d{3}) '
ENVOY_RE: Final = r'^\[([^\]]+)\] "[^"]*" (\d{3}) \S+ \d+ \d+ (\d+) \S+ "[^"]*" "[^"]*" "([^"]*)"'
# vLLM V1 server lines: process prefix, level, then either `MM-DD HH:MM:SS [file:line] message`
# (vLLM's logger) or `:     message` (uvicorn's access log, which prints no time).
VLLM_RE: Final = (
    r"^(?:\(\w+ pid=\d+\) )?([A-Z]+):? +(?:(\d\d-\d\d \d\d:\d\d:\d\d) \[[^\]]*\] )?(.*)$"
)
VLLM_RID_RE: Final = r"(?:Received|Added|Finished) request (chatcmpl-[0-9a-f]+)"
VLLM_STATUS_RE: Final = r'HTTP/[\d.]+" (\d{3}) '
VLLM_YEAR: Final = "2025"  # the corpus' year (vLLM prints none)
ROW_GROUP: Final = 256 * 1024


def load(corpus_dir: Path) -> Corpus:
    """The corpus written by :func:`benchmarks.corpus.generate` under ``corpus_dir``."""
    manifest = json.loads((corpus_dir / MANIFEST).read_text(encoding="utf-8"))
    return Corpus(corpus_dir, manifest)


# --------------------------------------------------------------------------------------- DuckDB


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _duckdb_select(fmt: Format, path: Path) -> str:
    """One SELECT producing :data:`COLUMNS` for one file."""
    p = _sql_str(str(path))
    layer = _sql_str(fmt.layer)
    src = _sql_str(fmt.parser)
    lines = (
        f"read_csv({p}, columns={{'line': 'VARCHAR'}}, header=false, delim={_sql_str(NO_SEP)}, "
        "quote='', escape='', auto_detect=false, strict_mode=false)"
    )
    if fmt.parser == "nginx_combined":
        return f"""
        SELECT strptime(m.ts, '%d/%b/%Y:%H:%M:%S %z') AS ts, {layer} AS layer, {src} AS source,
               NULL::VARCHAR AS request_id, m.status::INTEGER AS status,
               NULL::DOUBLE AS duration_ms, m.client AS detail
        FROM (SELECT regexp_extract(line, {_sql_str(NGINX_RE)}, ['client', 'ts', 'status']) AS m
              FROM {lines})"""
    if fmt.parser == "envoy_text":
        return f"""
        SELECT m.ts::TIMESTAMPTZ AS ts, {layer} AS layer, {src} AS source,
               m.rid AS request_id, m.status::INTEGER AS status,
               m.dur::DOUBLE AS duration_ms, NULL::VARCHAR AS detail
        FROM (SELECT regexp_extract(line, {_sql_str(ENVOY_RE)}, ['ts', 'status', 'dur', 'rid']) AS m
              FROM {lines})"""
    if fmt.parser == "llama_guard":
        return f"""
        SELECT ts::TIMESTAMPTZ AS ts, {layer} AS layer, {src} AS source, request_id,
               NULL::INTEGER AS status, latency_ms AS duration_ms,
               stage || ':' || split_part(output, chr(10), 1) AS detail
        FROM read_json({p}, format='newline_delimited', columns={{
            'ts': 'VARCHAR', 'request_id': 'VARCHAR', 'stage': 'VARCHAR', 'output': 'VARCHAR',
            'latency_ms': 'DOUBLE'}})"""
    if fmt.parser == "elasticsearch_slowlog":
        return f"""
        SELECT "@timestamp"::TIMESTAMPTZ AS ts, {layer} AS layer, {src} AS source,
               id AS request_id, NULL::INTEGER AS status, took_millis::DOUBLE AS duration_ms,
               message AS detail
        FROM read_json({p}, format='newline_delimited', columns={{
            '@timestamp': 'VARCHAR', 'id': 'VARCHAR', 'message': 'VARCHAR',
            'took_millis': 'VARCHAR'}})"""
    if fmt.parser == "openai_http":
        return f"""
        SELECT ts::TIMESTAMPTZ AS ts, {layer} AS layer, {src} AS source, request_id,
               status_code AS status, latency_ms AS duration_ms, request.model AS detail
        FROM read_json({p}, format='newline_delimited', columns={{
            'ts': 'VARCHAR', 'request_id': 'VARCHAR', 'status_code': 'INTEGER',
            'latency_ms': 'DOUBLE', 'request': 'STRUCT(model VARCHAR)'}})"""
    if fmt.parser == "otlp_json":
        span = (
            "STRUCT(traceId VARCHAR, name VARCHAR, startTimeUnixNano VARCHAR, "
            "endTimeUnixNano VARCHAR, status STRUCT(code INTEGER))"
        )
        doc = f"STRUCT(scopeSpans STRUCT(spans {span}[])[])[]"
        return f"""
        SELECT make_timestamp(s.startTimeUnixNano::BIGINT // 1000) AT TIME ZONE 'UTC' AS ts,
               {layer} AS layer, {src} AS source, s.traceId AS request_id,
               s.status.code::INTEGER AS status,
               round((s.endTimeUnixNano::BIGINT - s.startTimeUnixNano::BIGINT) / 1e6, 3)
                   AS duration_ms,
               s.name AS detail
        FROM (SELECT unnest(ss.spans) AS s
              FROM (SELECT unnest(rs.scopeSpans) AS ss
                    FROM (SELECT unnest(resourceSpans) AS rs
                          FROM read_json({p}, format='newline_delimited',
                                         columns={{'resourceSpans': '{doc}'}}))))"""
    if fmt.parser == "vllm":
        return f"""
        SELECT strptime({_sql_str(VLLM_YEAR + "-")} || nullif(m.ts, ''), '%Y-%m-%d %H:%M:%S')
                   AT TIME ZONE 'UTC' AS ts,
               {layer} AS layer, {src} AS source,
               nullif(regexp_extract(m.msg, {_sql_str(VLLM_RID_RE)}, 1), '') AS request_id,
               nullif(regexp_extract(m.msg, {_sql_str(VLLM_STATUS_RE)}, 1), '')::INTEGER
                   AS status,
               NULL::DOUBLE AS duration_ms, m.level AS detail
        FROM (SELECT regexp_extract(line, {_sql_str(VLLM_RE)}, ['level', 'ts', 'msg']) AS m
              FROM {lines})"""
    if fmt.parser == "envoy_json":
        return f"""
        SELECT start_time::TIMESTAMPTZ AS ts, {layer} AS layer, {src} AS source, request_id,
               response_code AS status, duration::DOUBLE AS duration_ms, path AS detail
        FROM read_json({p}, format='newline_delimited', columns={{
            'start_time': 'VARCHAR', 'request_id': 'VARCHAR', 'response_code': 'INTEGER',
            'duration': 'BIGINT', 'path': 'VARCHAR'}})"""
    raise ValueError(f"no DuckDB baseline for {fmt.parser}")


def duckdb_sql(corpus: Corpus, out: Path) -> str:
    """The whole DuckDB baseline as one ``COPY (...) TO`` statement."""
    union = "\nUNION ALL".join(_duckdb_select(fmt, corpus.path(fmt)) for fmt in corpus.formats)
    return (
        f"COPY (SELECT * FROM ({union}) ORDER BY request_id NULLS LAST, ts) "
        f"TO {_sql_str(str(out))} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {ROW_GROUP})"
    )


def run_duckdb(corpus: Corpus, out: Path) -> int:
    """Run the DuckDB baseline; return the rows written."""
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        row = con.execute(duckdb_sql(corpus, out)).fetchone()
    finally:
        con.close()
    return int(row[0]) if row else 0


# --------------------------------------------------------------------------------------- polars

UTC_ISO: Final = "%Y-%m-%dT%H:%M:%S%.3fZ"


def _lines(path: Path) -> pl.LazyFrame:
    return pl.scan_csv(
        path,
        has_header=False,
        separator=NO_SEP,
        quote_char=None,
        schema={"line": pl.String},
    )


def _iso(col: str) -> pl.Expr:
    return pl.col(col).str.to_datetime(UTC_ISO, time_unit="ms", time_zone="UTC")


def _polars_frame(fmt: Format, path: Path) -> pl.LazyFrame:
    """One lazy frame producing :data:`COLUMNS` for one file."""
    consts = [pl.lit(fmt.layer).alias("layer"), pl.lit(fmt.parser).alias("source")]
    line = pl.col("line")
    if fmt.parser == "nginx_combined":
        m = line.str.extract_groups(NGINX_RE)
        frame = _lines(path).select(
            m.struct[1]
            .str.to_datetime("%d/%b/%Y:%H:%M:%S %z", time_unit="ms")
            .dt.convert_time_zone("UTC")
            .alias("ts"),
            *consts,
            pl.lit(None, pl.String).alias("request_id"),
            m.struct[2].cast(pl.Int32).alias("status"),
            pl.lit(None, pl.Float64).alias("duration_ms"),
            m.struct[0].alias("detail"),
        )
    elif fmt.parser == "envoy_text":
        m = line.str.extract_groups(ENVOY_RE)
        frame = _lines(path).select(
            m.struct[0].str.to_datetime(UTC_ISO, time_unit="ms", time_zone="UTC").alias("ts"),
            *consts,
            m.struct[3].alias("request_id"),
            m.struct[1].cast(pl.Int32).alias("status"),
            m.struct[2].cast(pl.Float64).alias("duration_ms"),
            pl.lit(None, pl.String).alias("detail"),
        )
    elif fmt.parser == "llama_guard":
        schema = pl.Schema(
            {
                "ts": pl.String,
                "request_id": pl.String,
                "stage": pl.String,
                "output": pl.String,
                "latency_ms": pl.Float64,
            }
        )
        frame = pl.scan_ndjson(path, schema=schema).select(
            _iso("ts").alias("ts"),
            *consts,
            "request_id",
            pl.lit(None, pl.Int32).alias("status"),
            pl.col("latency_ms").alias("duration_ms"),
            pl.concat_str(
                "stage", pl.col("output").str.split("\n").list.first(), separator=":"
            ).alias("detail"),
        )
    elif fmt.parser == "elasticsearch_slowlog":
        schema = pl.Schema(
            {
                "@timestamp": pl.String,
                "id": pl.String,
                "message": pl.String,
                "took_millis": pl.String,
            }
        )
        frame = pl.scan_ndjson(path, schema=schema).select(
            _iso("@timestamp").alias("ts"),
            *consts,
            pl.col("id").alias("request_id"),
            pl.lit(None, pl.Int32).alias("status"),
            pl.col("took_millis").cast(pl.Float64).alias("duration_ms"),
            pl.col("message").alias("detail"),
        )
    elif fmt.parser == "openai_http":
        schema = pl.Schema(
            {
                "ts": pl.String(),
                "request_id": pl.String(),
                "status_code": pl.Int32(),
                "latency_ms": pl.Float64(),
                "request": pl.Struct({"model": pl.String()}),
            }
        )
        frame = pl.scan_ndjson(path, schema=schema).select(
            _iso("ts").alias("ts"),
            *consts,
            "request_id",
            pl.col("status_code").alias("status"),
            pl.col("latency_ms").alias("duration_ms"),
            pl.col("request").struct.field("model").alias("detail"),
        )
    elif fmt.parser == "otlp_json":
        span = pl.Struct(
            {
                "traceId": pl.String(),
                "name": pl.String(),
                "startTimeUnixNano": pl.String(),
                "endTimeUnixNano": pl.String(),
                "status": pl.Struct({"code": pl.Int32()}),
            }
        )
        doc = pl.Struct(
            {
                "resourceSpans": pl.List(
                    pl.Struct({"scopeSpans": pl.List(pl.Struct({"spans": pl.List(span)}))})
                )
            }
        )
        start = pl.col("startTimeUnixNano").cast(pl.Int64)
        # Each line is one ExportTraceServiceRequest (kilobytes of JSON). Read the lines as text
        # and decode them with the explicit dtype: `scan_ndjson(schema=...)` with this nested
        # schema did not stream within memory under the final sort (polars 2.1: 3.1 GB RSS on
        # a 0.8 GB slice, killed at 12 GB on 4.1 GB); `str.json_decode` per morsel stays flat.
        frame = (
            _lines(path)
            .select(line.str.json_decode(doc).struct.field("resourceSpans"))
            .select(pl.col("resourceSpans").explode().struct.field("scopeSpans"))
            .select(pl.col("scopeSpans").explode().struct.field("spans"))
            .select(pl.col("spans").explode())
            .unnest("spans")
            .select(
                (start // 1_000_000).cast(pl.Datetime("ms", "UTC")).alias("ts"),
                *consts,
                pl.col("traceId").alias("request_id"),
                pl.col("status").struct.field("code").alias("status"),
                ((pl.col("endTimeUnixNano").cast(pl.Int64) - start) / 1e6)
                .round(3)
                .alias("duration_ms"),
                pl.col("name").alias("detail"),
            )
        )
    elif fmt.parser == "vllm":
        m = line.str.extract_groups(VLLM_RE)
        msg = m.struct[2]
        frame = _lines(path).select(
            (pl.lit(VLLM_YEAR + "-") + m.struct[1])
            .str.to_datetime("%Y-%m-%d %H:%M:%S", time_unit="ms", time_zone="UTC")
            .alias("ts"),
            *consts,
            msg.str.extract(VLLM_RID_RE, 1).alias("request_id"),
            msg.str.extract(VLLM_STATUS_RE, 1).cast(pl.Int32).alias("status"),
            pl.lit(None, pl.Float64).alias("duration_ms"),
            m.struct[0].alias("detail"),
        )
    elif fmt.parser == "envoy_json":
        schema = pl.Schema(
            {
                "start_time": pl.String(),
                "request_id": pl.String(),
                "response_code": pl.Int32(),
                "duration": pl.Int64(),
                "path": pl.String(),
            }
        )
        frame = pl.scan_ndjson(path, schema=schema).select(
            _iso("start_time").alias("ts"),
            *consts,
            "request_id",
            pl.col("response_code").alias("status"),
            pl.col("duration").cast(pl.Float64).alias("duration_ms"),
            pl.col("path").alias("detail"),
        )
    else:
        raise ValueError(f"no polars baseline for {fmt.parser}")
    return frame


def polars_plan(corpus: Corpus) -> pl.LazyFrame:
    """The whole polars baseline as one lazy query (union, then sort)."""
    frames = [_polars_frame(fmt, corpus.path(fmt)) for fmt in corpus.formats]
    return pl.concat(frames, how="vertical").sort(
        "request_id", "ts", nulls_last=True, maintain_order=False
    )


def run_polars(corpus: Corpus, out: Path) -> int:
    """Run the polars baseline (streaming ``sink_parquet``); return the rows written."""
    polars_plan(corpus).sink_parquet(out, compression="zstd", row_group_size=ROW_GROUP)
    return int(pl.scan_parquet(out).select(pl.len()).collect().item())


RUNNERS: Final = {"duckdb": run_duckdb, "polars": run_polars}


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m benchmarks.baselines duckdb|polars CORPUS_DIR OUT.parquet``: prints JSON."""
    ap = argparse.ArgumentParser(description="Run one hand-written baseline on a corpus.")
    ap.add_argument("engine", choices=sorted(RUNNERS))
    ap.add_argument("corpus", type=Path)
    ap.add_argument("out", type=Path)
    args = ap.parse_args(argv)
    started = time.perf_counter()
    rows = RUNNERS[args.engine](load(args.corpus), args.out)
    print(json.dumps({"rows": rows, "seconds": round(time.perf_counter() - started, 3)}))


if __name__ == "__main__":
    main()
