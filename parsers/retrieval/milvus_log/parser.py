"""Milvus server log (zap text encoder of ``pingcap/log``), one record per line::

    [2024/05/01 12:00:00.123 +00:00] [DEBUG] [proxy/impl.go:2830] ["Search received"]
        [traceID=4f1c...] [role=proxy] [db=default] [collection=kb] [nq=1] ...

The message is bracketed, quoted when it holds spaces or quotes; fields are ``[key=value]`` with
values quoted (``\\"`` escapes) when needed. Proxy messages ``<Search|HybridSearch|Query>
<received|enqueued|done|slow|failed to ...>`` become ``retrieval.query``; everything else
``server.log``; the banner's ``Version:   v2.4.4`` line ``server.start``.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from timeline.parserkit.api import ParseResult, Sample, Source, marks
from timeline.parserkit.durations import go_duration_ms
from timeline.parserkit.frame import severity
from timeline.parserkit.ids import id_list
from timeline.parserkit.kv import kv_list
from timeline.parserkit.text import container_prefix, nullify, strip_ansi, unescape
from timeline.parserkit.timestamps import parse_pattern

_LINE: Final = (
    r"^\[(?P<ts>\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)? [+-]\d{2}:\d{2})\] "
    r"\[(?P<level>[A-Z]+)\] \[(?P<caller>[^\]]*)\] "
    r'(?:\["(?P<qmsg>(?:[^"\\]|\\.)*)"\]|\[(?P<msg>[^\]]*)\])(?P<fields>.*)$'
)
_OPERATION: Final = (
    r"^(?P<op>Search|HybridSearch|Query|SearchByPK|AdvancedSearch) "
    r"(?P<phase>received|enqueued|done|finished|slow|failed to enqueue|failed to WaitToFinish|failed)$"
)
_BANNER_ART: Final = r"^[\s_/\\|()`',.-]+$"
_BANNER_TEXT: Final = (
    r"^(?:Welcome to use Milvus!|Built:\s|GitCommit:\s|GoVersion:\s|TotalMem:\s|UsedMem:\s|"
    r"open pid file:|lock pid file:|\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} maxprocs:)"
)
_VERSION: Final = r"^Version:\s+(?P<version>\S+)$"
_LEVELS: Final = {"DPANIC": "FATAL"}


def _field(name: str) -> pl.Expr:
    """The value of ``[name=value]`` / ``[name="quoted \\" value"]`` in the fields text."""
    key = name.replace("(", r"\(").replace(")", r"\)")
    parts = pl.col("_fields").str.extract_groups(
        rf'\[{key}=(?:"(?P<q>(?:[^"\\]|\\.)*)"|(?P<p>[^\]"]*))\]'
    )
    return nullify(pl.coalesce(unescape(parts.struct.field("q")), parts.struct.field("p")), ("",))


class MilvusParser:
    """Milvus proxy / node logs in the default zap text format."""

    name = "milvus_log"
    layer = "retrieval"
    description = (
        "Milvus server log (zap text): search/query requests as retrieval.query, other lines"
    )

    def sniff(self, sample: Sample) -> float:
        """Fraction of zap-format lines (banner included), weighted down without Milvus markers."""
        if not sample.lines:
            return 0.0
        frame = self._fields(sample.frame(), "UTC")
        log = pl.col("_l").struct.field("ts").is_not_null()
        matched = frame.select(log.sum()).item()
        if not matched:
            return 0.0
        banner = frame.select((pl.col("_banner") | pl.col("_version").is_not_null()).sum()).item()
        milvus = frame.select(
            (
                pl.col("_fields").str.contains(r"\[(?:role|traceID|collectionID|nodeID|vchannel)=")
                | pl.col("line").str.contains(r"Milvus|milvus")
            ).any()
        ).item()
        fraction = (matched + banner) / frame.height
        return float(fraction if milvus else 0.8 * fraction)

    def parse(self, source: Source) -> ParseResult:
        """Parse one chunk of Milvus log lines."""
        frame = self._fields(source.lines, source.settings.timezone)
        is_log = pl.col("_l").struct.field("ts").is_not_null()
        is_event = is_log | pl.col("_version").is_not_null()
        banner = frame.filter(~is_event & pl.col("_banner"))
        rest = frame.filter(~(~is_event & pl.col("_banner")))
        bad_time = is_log & pl.col("ts_source").is_null()
        reason = pl.when(bad_time).then(pl.lit("Milvus timestamp does not parse"))
        return ParseResult(
            events=rest.filter(is_event & ~bad_time).select(self._event_columns()),
            rejects=marks(
                rest.filter(~is_event | bad_time),
                reason.otherwise(pl.lit("not a Milvus log line")),
            ),
            skipped=marks(banner, "startup banner"),
        )

    def _fields(self, lines: pl.DataFrame, timezone: str) -> pl.DataFrame:
        env = container_prefix(strip_ansi(pl.col("line")))
        frame = lines.with_columns(env.alias("_env")).with_columns(
            pl.col("_env").struct.field("rest").str.strip_chars_end().alias("_rest")
        )
        frame = frame.with_columns(
            pl.col("_rest").str.extract_groups(_LINE).alias("_l"),
            pl.col("_rest").str.strip_chars().str.extract(_VERSION, 1).alias("_version"),
            (
                pl.col("_rest").str.contains(_BANNER_ART)
                | pl.col("_rest").str.strip_chars().str.contains(_BANNER_TEXT)
                | (pl.col("_rest").str.strip_chars() == "")
            ).alias("_banner"),
        )
        l = pl.col("_l").struct  # noqa: E741
        parsed = parse_pattern(l.field("ts"), "%Y/%m/%d %H:%M:%S%.f %:z", timezone)
        message = pl.coalesce(unescape(l.field("qmsg")), l.field("msg"))
        return frame.with_columns(
            parsed.ts.alias("ts_source"),
            parsed.assumed_tz.alias("ts_assumed_tz"),
            message.alias("_msg"),
            l.field("fields").fill_null("").alias("_fields"),
        ).with_columns(pl.col("_msg").str.extract_groups(_OPERATION).alias("_op"))

    def _event_columns(self) -> list[pl.Expr]:
        l = pl.col("_l").struct  # noqa: E741
        op = pl.col("_op").struct
        is_query = op.field("op").is_not_null()
        phase = op.field("phase")
        level = l.field("level")
        trace = _field("traceID")
        search_params = _field("search_params")
        top_k = pl.coalesce(
            _field("topk"),
            _field("topK"),
            _field("top_k"),
            search_params.str.extract(r'topk\\*"\s*,\s*\\*"value\\*"\s*:\s*\\*"(\d+)', 1),
        ).cast(pl.Int64, strict=False)
        error = _field("error")
        status = (
            pl.when(~is_query)
            .then(None)
            .when(phase.str.starts_with("failed"))
            .then(pl.lit("error"))
            .when(phase.is_in(["done", "finished", "slow"]))
            .then(pl.lit("ok"))
        )
        return [
            pl.col("source_line"),
            pl.col("ts_source"),
            l.field("ts").alias("ts_raw"),
            pl.col("ts_assumed_tz"),
            pl.lit("retrieval").alias("layer"),
            pl.when(is_query)
            .then(pl.lit("retrieval.query"))
            .when(pl.col("_version").is_not_null())
            .then(pl.lit("server.start"))
            .otherwise(pl.lit("server.log"))
            .alias("event_type"),
            pl.coalesce(
                level.replace_strict(_LEVELS, default=None, return_dtype=pl.String),
                severity(level),
            ).alias("severity"),
            status.alias("status"),
            pl.when(pl.col("_version").is_not_null())
            .then(pl.lit("Milvus ") + pl.col("_version"))
            .otherwise(pl.col("_msg"))
            .alias("message"),
            trace.alias("trace_id"),
            id_list({"milvus_msg_id": pl.coalesce(_field("msgID"), _field("MsgID"))}).alias("ids"),
            nullify(pl.col("_env").struct.field("compose")).alias("host"),
            go_duration_ms(_field("duration")).alias("duration_ms"),
            pl.coalesce(_field("collection"), _field("collectionName")).alias("index_name"),
            top_k.alias("top_k"),
            kv_list(
                {
                    "caller": l.field("caller"),
                    "docker_time": pl.col("_env").struct.field("docker_time"),
                    "operation": op.field("op"),
                    "phase": phase,
                    "role": _field("role"),
                    "db": _field("db"),
                    "collection_id": _field("collectionID"),
                    "partitions": _field("partitions"),
                    "nq": _field("nq"),
                    "dsl": _field("dsl"),
                    "expr": _field("expr"),
                    "output_fields": _field("OutputFields"),
                    "search_params": search_params,
                    "consistency_level": _field("ConsistencyLevel"),
                    "guarantee_timestamp": _field("guarantee_timestamp"),
                    "duration": _field("duration"),
                    "error": error,
                    "node_id": _field("nodeID"),
                    "version": pl.col("_version"),
                }
            ).alias("attributes"),
        ]
