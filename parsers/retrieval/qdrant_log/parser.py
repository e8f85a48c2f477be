"""Qdrant server log: actix-web access lines, tracing log lines and the startup banner.

A line, after optional ``docker compose`` (``qdrant-1  | ``) and Docker Desktop
(``2024-04-10 15:01:09 ``, local time, no zone) prefixes::

    2024-04-10T14:01:09.909179Z  INFO actix_web::middleware::logger: 192.168.65.1 "POST
    /collections/kb/points/search?timeout=60 HTTP/1.1" 200 67 "-" "python-httpx/0.27.0" 0.004214

The access part is actix-web's default ``%a "%r" %s %b "%{Referer}i" "%{User-Agent}i" %T``
(``%T``: seconds). Search-like endpoints become ``retrieval.query``; other requests
``http.response``; other log lines ``server.log``; the banner's ``Version: x, build: y`` line
``server.start``.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from timeline.parserkit.api import ParseResult, Sample, Source, marks
from timeline.parserkit.frame import http_status, severity
from timeline.parserkit.kv import kv_list
from timeline.parserkit.text import container_prefix, nullify, strip_ansi
from timeline.parserkit.timestamps import parse_iso8601

_LOG: Final = (
    r"^(?P<ts>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))\s+"
    r"(?P<level>TRACE|DEBUG|INFO|WARN|ERROR)\s+(?P<target>[A-Za-z_][\w:]*): ?(?P<msg>.*)$"
)
_ACCESS: Final = (
    r'^(?P<ip>\S+) "(?:(?P<method>[A-Z]+) (?P<path>[^ ?"]*)(?:\?(?P<query>[^ "]*))?'
    r'(?: (?P<proto>[^"]*))?|(?P<other>[^"]*))" (?P<status>\d{3}) (?P<bytes>\d+|-) '
    r'"(?P<referer>(?:[^"\\]|\\.)*)" "(?P<ua>(?:[^"\\]|\\.)*)" (?P<secs>\d+(?:\.\d+)?)$'
)
_SEARCH_ROUTE: Final = (
    r"^/collections/(?P<collection>[^/]+)/points/(?P<op>search|query|recommend|discover)"
    r"(?:/(?P<variant>batch|groups|matrix/pairs|matrix/offsets))?/?$"
)
# Targets that only Qdrant (and the actix-web server it embeds) log under.
_QDRANT_TARGET: Final = (
    r"^(?:qdrant|actix_web|actix_server|storage|collection|segment|api|consensus|raft|"
    r"shard|wal|common|memory|gridstore|quantization|sparse)(?:::|$)"
)
_BANNER_ART: Final = r"^[\s_/\\|()`',.-]+$"
_BANNER_TEXT: Final = r"^(?:Access web UI at |Agentic Skills: |Qdrant is running)"
_VERSION: Final = r"^Version: (?P<version>\S+?),? build: (?P<build>\S+)$"


class QdrantParser:
    """Qdrant's own log (tracing + actix-web access log), with container prefixes."""

    name = "qdrant_log"
    layer = "retrieval"
    description = (
        "Qdrant server log: REST access lines (searches as retrieval.query), server lines, startup"
    )

    def sniff(self, sample: Sample) -> float:
        """Fraction of sample lines that are Qdrant log lines or its startup banner."""
        if not sample.lines:
            return 0.0
        frame = self._fields(sample.frame(), "UTC")
        qdrant = frame.select(
            (
                (
                    pl.col("_log").struct.field("ts").is_not_null()
                    & pl.col("_log").struct.field("target").str.contains(_QDRANT_TARGET)
                )
                | pl.col("_version").struct.field("version").is_not_null()
            ).sum()
        ).item()
        banner = frame.select(pl.col("_banner").sum()).item()
        if not qdrant:
            return 0.0
        return float((qdrant + banner) / frame.height)

    def parse(self, source: Source) -> ParseResult:
        """Parse one chunk of Qdrant log lines."""
        frame = self._fields(source.lines, source.settings.timezone)
        log = pl.col("_log").struct
        is_log = log.field("ts").is_not_null()
        is_version = pl.col("_version").struct.field("version").is_not_null()
        banner = frame.filter(pl.col("_banner") & ~is_log & ~is_version)
        rest = frame.filter(~(pl.col("_banner") & ~is_log & ~is_version))
        bad_time = is_log & pl.col("ts_source").is_null()
        good = rest.filter((is_log | is_version) & ~bad_time)
        reason = pl.when(bad_time).then(pl.lit("Qdrant timestamp does not parse"))
        bad = rest.filter(~(is_log | is_version) | bad_time)
        return ParseResult(
            events=good.select(self._event_columns()),
            rejects=marks(bad, reason.otherwise(pl.lit("not a Qdrant log line"))),
            skipped=marks(banner, "startup banner"),
        )

    def _fields(self, lines: pl.DataFrame, timezone: str) -> pl.DataFrame:
        env = container_prefix(strip_ansi(pl.col("line")))
        frame = lines.with_columns(env.alias("_env")).with_columns(
            pl.col("_env").struct.field("rest").str.strip_chars_end().alias("_rest")
        )
        frame = frame.with_columns(
            pl.col("_rest").str.extract_groups(_LOG).alias("_log"),
            pl.col("_rest").str.strip_chars().str.extract_groups(_VERSION).alias("_version"),
            (
                pl.col("_rest").str.contains(_BANNER_ART)
                | pl.col("_rest").str.strip_chars().str.contains(_BANNER_TEXT)
                | (pl.col("_rest").str.strip_chars() == "")
            ).alias("_banner"),
        )
        log = pl.col("_log").struct
        access = (
            pl.when(log.field("target") == "actix_web::middleware::logger")
            .then(log.field("msg"))
            .str.extract_groups(_ACCESS)
        )
        parsed = parse_iso8601(log.field("ts"), timezone)
        return frame.with_columns(
            access.alias("_a"),
            parsed.ts.alias("ts_source"),
            parsed.assumed_tz.alias("ts_assumed_tz"),
        )

    def _event_columns(self) -> list[pl.Expr]:
        log = pl.col("_log").struct
        a = pl.col("_a").struct
        is_access = a.field("ip").is_not_null()
        route = a.field("path").str.extract_groups(_SEARCH_ROUTE)
        is_search = route.struct.field("collection").is_not_null()
        code = a.field("status").cast(pl.Int64, strict=False)
        msg = log.field("msg").str.strip_chars()
        listening = msg.str.extract(r"^Qdrant HTTP listening on (\S+)$", 1)
        event_type = (
            pl.when(is_search)
            .then(pl.lit("retrieval.query"))
            .when(is_access)
            .then(pl.lit("http.response"))
            .when(
                pl.col("_version").struct.field("version").is_not_null() | listening.is_not_null()
            )
            .then(pl.lit("server.start"))
            .otherwise(pl.lit("server.log"))
        )
        version = pl.col("_version").struct
        return [
            pl.col("source_line"),
            pl.col("ts_source"),
            log.field("ts").alias("ts_raw"),
            pl.col("ts_assumed_tz"),
            pl.lit("retrieval").alias("layer"),
            event_type.alias("event_type"),
            severity(log.field("level")).alias("severity"),
            pl.when(is_access).then(http_status(code)).alias("status"),
            code.alias("status_code"),
            pl.when(is_access)
            .then(None)
            .when(version.field("version").is_not_null())
            .then(pl.lit("Qdrant ") + version.field("version"))
            .otherwise(msg)
            .alias("message"),
            nullify(pl.col("_env").struct.field("compose")).alias("host"),
            (a.field("secs").cast(pl.Float64, strict=False) * 1000.0).round(6).alias("duration_ms"),
            a.field("method").alias("http_method"),
            a.field("path").alias("http_route"),
            nullify(a.field("ip")).alias("client_address"),
            route.struct.field("collection").alias("index_name"),
            kv_list(
                {
                    "target": log.field("target"),
                    "docker_time": pl.col("_env").struct.field("docker_time"),
                    "operation": route.struct.field("op"),
                    "operation_variant": route.struct.field("variant"),
                    "query_string": nullify(a.field("query")),
                    "protocol": a.field("proto"),
                    "request_line": nullify(a.field("other")),
                    "bytes_sent": nullify(a.field("bytes")),
                    "referer": nullify(a.field("referer")),
                    "user_agent": nullify(a.field("ua")),
                    "listen_port": listening,
                    "version": version.field("version"),
                    "build": version.field("build"),
                }
            ).alias("attributes"),
        ]
