"""Ollama server logs: slog logfmt, GIN access lines, Go `log` lines, llama.cpp runner output."""

from __future__ import annotations

from typing import Final

import polars as pl

from timeline.parserkit import logfmt
from timeline.parserkit.api import MARK_SCHEMA, ParseResult, Sample, Source, marks
from timeline.parserkit.durations import go_duration_ms
from timeline.parserkit.frame import first_reason, http_status, severity
from timeline.parserkit.kv import empty_kv, kv_list
from timeline.parserkit.text import strip_ansi, unquote
from timeline.parserkit.timestamps import parse_iso8601, parse_pattern

SLOG: Final = (
    r"^time=(?P<slog_ts>\S+) level=(?P<slog_level>[A-Za-z]+(?:[+-]\d+)?) "
    r'(?:source=(?P<src>\S+) )?msg=(?P<slog_msg>"(?:[^"\\]|\\.)*"|\S*)(?P<kv>.*)$'
)
GIN: Final = (
    r"^\[GIN\] (?P<gin_ts>\d{4}/\d{2}/\d{2} - \d{2}:\d{2}:\d{2}) \|\s*(?P<status>\d{3})\s*\|"
    r'\s*(?P<dur>\S+)\s*\|\s*(?P<client>\S*)\s*\|\s*(?P<method>[A-Z]+)\s+"(?P<path>[^"]*)"\s*$'
)
GOLOG: Final = (
    r"^(?P<log_ts>\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2})(?:\.\d+)? "
    r"(?:(?P<log_src>[\w.-]+\.go:\d+): )?(?:(?P<log_level>DEBUG|INFO|WARN|WARNING|ERROR):? )?"
    r"(?P<log_msg>.*)$"
)
LLAMA: Final = (
    r"^(?P<comp>(?:llama|llm|ggml|gguf|clip|mllama|print_info|load_tensors|load|init_tokenizer"
    r"|sampler|output_reserve|graph_reserve|cuda|vulkan|metal|sched)[a-z0-9_]*):\s?(?P<comp_msg>.*)$"
)
LLAMA_SERVER: Final = (
    r"^(?P<ls_level>INFO|WARN|ERROR|DEBUG) \[(?P<ls_func>[\w:]+)\] (?P<ls_msg>.*?)"
    r"(?: \| (?P<ls_kv>.*))?$"
)
BANNER: Final = r"^\[GIN-debug\]|^ - using (?:env|code):"
_BLOB: Final = r"blobs/(sha256[-:][0-9a-f]{64})"
_EMPTY: Final = pl.Schema({"source_line": pl.Int64()})


def _frame(lines: pl.DataFrame) -> pl.DataFrame:
    clean = strip_ansi(pl.col("line")).str.strip_chars_end()
    df = lines.with_columns(clean.alias("clean"))
    for name, pattern in (
        ("_s", SLOG),
        ("_g", GIN),
        ("_l", GOLOG),
        ("_c", LLAMA),
        ("_ls", LLAMA_SERVER),
    ):
        df = df.with_columns(pl.col("clean").str.extract_groups(pattern).alias(name)).unnest(name)
    kind = first_reason(
        [
            (pl.col("slog_ts").is_not_null(), "slog"),
            (pl.col("gin_ts").is_not_null(), "gin"),
            (pl.col("clean").str.contains(BANNER), "banner"),
            (pl.col("log_ts").is_not_null(), "golog"),
            (pl.col("comp").is_not_null(), "llama"),
            (pl.col("ls_func").is_not_null(), "llama_server"),
            (pl.col("clean").str.contains(r"^\s+\S"), "llama"),
        ]
    )
    return df.with_columns(kind.alias("kind"))


_KINDS: Final = ("slog", "gin", "golog", "llama", "llama_server")


class OllamaParser:
    """Ollama `ollama serve` output: slog, GIN access, Go log, llama.cpp runner lines."""

    name = "ollama"
    layer = "inference"
    description = "Ollama server log (slog logfmt, GIN access lines, Go log and llama.cpp output)"

    def sniff(self, sample: Sample) -> float:
        """High when slog / GIN / Go-log lines of Ollama make up the sample."""
        if not sample.lines:
            return 0.0
        df = _frame(sample.frame())
        kinds = df.get_column("kind")
        strong = int(kinds.is_in(["slog", "gin", "golog", "banner"]).sum())
        ollama_ish = int(
            (
                (kinds == "gin")
                | (kinds == "banner")
                | df.get_column("src").str.contains(r"\.go:\d+$").fill_null(False)
                | df.get_column("log_src").str.contains(r"\.go:\d+$").fill_null(False)
            ).sum()
        )
        if strong == 0 or ollama_ish == 0:
            return 0.0
        known = int(kinds.is_not_null().sum())
        return min(0.6 + 0.38 * known / df.height, 1.0)

    def parse(self, source: Source) -> ParseResult:
        """Each line alone; banners skipped, unknown lines rejected."""
        tz = source.settings.timezone
        df = _frame(source.lines)
        skipped = marks(df.filter(pl.col("kind") == "banner"), "gin debug banner")
        rejects = marks(df.filter(pl.col("kind").is_null()), "not an Ollama log line")
        ev = df.filter(pl.col("kind").is_in(_KINDS))
        if ev.height == 0:
            return ParseResult(pl.DataFrame(schema=_EMPTY), rejects, skipped)
        slog_ts = parse_iso8601(pl.col("slog_ts"), tz)
        gin_ts = parse_pattern(pl.col("gin_ts"), "%Y/%m/%d - %H:%M:%S", tz)
        log_ts = parse_pattern(pl.col("log_ts"), "%Y/%m/%d %H:%M:%S", tz)
        ls_epoch = pl.col("ls_kv").str.extract(r"\btimestamp=(\d+)", 1).cast(pl.Int64, strict=False)
        ls_ts = (ls_epoch * 1_000_000).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
        kind = pl.col("kind")
        msg = (
            pl.when(kind == "slog")
            .then(unquote(pl.col("slog_msg")))
            .when(kind == "gin")
            .then(pl.concat_str([pl.col("method"), pl.col("path")], separator=" "))
            .when(kind == "golog")
            .then(pl.col("log_msg"))
            .when(kind == "llama_server")
            .then(pl.col("ls_msg"))
            .otherwise(pl.coalesce("comp_msg", pl.col("clean").str.strip_chars()))
        )
        ev = ev.with_columns(msg.alias("msg"))
        m = pl.col("msg")
        level = pl.coalesce(
            pl.col("slog_level").str.replace(r"[+-]\d+$", ""), "log_level", "ls_level"
        )
        sev = severity(level)
        kv_text = pl.coalesce("kv", "ls_kv")
        cmd = pl.col("kv").str.extract(r'\bcmd="([^"]*)"', 1)
        blob = pl.coalesce(
            pl.col("kv").str.extract(_BLOB, 1), cmd.str.extract(_BLOB, 1)
        ).str.replace("sha256-", "sha256:")
        loads_model = (kind == "slog") & (
            m.str.contains(r"^starting llama server|^loading model|, loading$|^new model will fit")
        )
        event_type = (
            pl.when(kind == "gin")
            .then(pl.lit("http.response"))
            .when(m.str.contains(r"^Listening on |^server config|^llama runner started"))
            .then(pl.lit("server.start"))
            .when(loads_model)
            .then(pl.lit("deploy.change"))
            .otherwise(pl.lit("server.log"))
        )
        code = pl.col("status").cast(pl.Int64, strict=False)
        runner_s = m.str.extract(r"^llama runner started in ([\d.]+) seconds", 1).cast(
            pl.Float64, strict=False
        )
        attrs = kv_list(
            {
                "source": pl.coalesce("src", "log_src"),
                "component": pl.coalesce("comp", "ls_func"),
                "ollama_version": m.str.extract(r"\(version ([^)]+)\)", 1),
            }
        )
        pairs = pl.when(kind.is_in(["slog", "llama_server"])).then(logfmt.pairs(kv_text))
        general_name = m.str.extract(r"general\.name\s+str\s+=\s+(.+)$", 1)
        events = ev.select(
            "source_line",
            pl.coalesce(slog_ts.ts, gin_ts.ts, log_ts.ts, ls_ts).alias("ts_source"),
            pl.coalesce(
                "slog_ts", "gin_ts", "log_ts", pl.col("ls_kv").str.extract(r"\btimestamp=(\d+)", 1)
            ).alias("ts_raw"),
            pl.coalesce(
                slog_ts.assumed_tz,
                gin_ts.assumed_tz,
                log_ts.assumed_tz,
                pl.when(ls_ts.is_not_null()).then(False),
            ).alias("ts_assumed_tz"),
            pl.lit("inference").alias("layer"),
            event_type.alias("event_type"),
            pl.when(kind == "gin").then(pl.lit("INFO")).otherwise(sev).alias("severity"),
            pl.when(kind == "gin")
            .then(http_status(code))
            .when(sev.is_in(["ERROR", "FATAL"]))
            .then(pl.lit("error"))
            .alias("status"),
            pl.when(kind == "gin").then(code).alias("status_code"),
            m.alias("message"),
            pl.coalesce(go_duration_ms(pl.col("dur")), runner_s * 1000.0).alias("duration_ms"),
            pl.col("method").alias("http_method"),
            pl.col("path").alias("http_route"),
            pl.col("client").alias("client_address"),
            general_name.alias("model"),
            pl.when(loads_model).then(blob).alias("model_revision"),
            pl.lit("ollama").alias("provider"),
            pl.concat_list(attrs, pairs.fill_null(empty_kv())).alias("attributes"),
        )
        return ParseResult(
            events, rejects.select(MARK_SCHEMA.names()), skipped.select(MARK_SCHEMA.names())
        )
