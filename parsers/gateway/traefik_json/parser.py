"""Traefik v2 / v3 access logs in JSON (``accessLog.format = json``).

Field names come from ``pkg/middlewares/accesslog/logdata.go``: ``StartUTC``, ``StartLocal``,
``Duration`` (nanoseconds), ``OriginStatus``, ``DownstreamStatus``, ``RequestMethod``,
``RequestPath`` (with the query), ``ClientHost``, ``RouterName``, ``ServiceName``,
``ServiceURL`` (a string, or a Go ``url.URL`` object in older releases), ``ServiceAddr``, ...;
kept headers appear as ``request_<Header>``, ``origin_<Header>``, ``downstream_<Header>``; the
logger adds ``time``, ``level`` and ``msg``.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from parsers.gateway._envoy import kept_keys, key_names
from timeline.parserkit.api import ParseResult, Sample, Source, marks
from timeline.parserkit.frame import first_reason, http_status, severity
from timeline.parserkit.http import first_hop, query, route
from timeline.parserkit.ids import id_list
from timeline.parserkit.jsonpaths import ROOT, PathSet, is_json_object, jp, key_path, object_from
from timeline.parserkit.kv import attributes
from timeline.parserkit.text import clean, integer, number
from timeline.parserkit.timestamps import parse_iso8601

MARKERS: Final = ("StartUTC", "DownstreamStatus", "RequestMethod", "RouterName", "Duration")


class _Keys:
    """The top-level keys the parser reads, decoded once per chunk (a new set per parse)."""

    def __init__(self) -> None:
        self.paths = PathSet()
        self.mapped: list[str] = []

    def __call__(self, *keys: str) -> pl.Expr:
        """The first non-null of several spellings of a key (header names vary in case)."""
        self.mapped += keys
        return pl.coalesce([clean(self.paths.key(k)) for k in keys])

    def rest(self, names: list[str]) -> pl.Expr:
        """Attributes of the keys in ``names`` not read so far, under their own names."""
        mapped = [*self.mapped, "ServiceURL"]
        for name in names:
            if name not in mapped:
                self.paths.key(name)
        return kept_keys(names, mapped)


def _ns_to_ms(expr: pl.Expr) -> pl.Expr:
    """Go durations in nanoseconds to milliseconds (rounded to the nanosecond)."""
    return (number(expr) / 1e6).round(6)


def _service_url(field: _Keys) -> pl.Expr:
    """ServiceURL as text: a string, or ``Scheme://Host/Path`` built from a url.URL object."""
    raw = field.paths.key("ServiceURL")
    as_object = raw.str.starts_with("{")
    built = pl.concat_str(
        [
            raw.str.json_path_match("$.Scheme"),
            pl.lit("://"),
            raw.str.json_path_match("$.Host"),
            raw.str.json_path_match("$.Path").fill_null(""),
        ]
    )
    return clean(pl.when(as_object).then(built).otherwise(raw))


class TraefikJsonParser:
    """Traefik JSON access logs: one object per request."""

    name = "traefik_json"
    layer = "gateway"
    description = "Traefik v2/v3 access log in JSON (StartUTC, Duration ns, DownstreamStatus, ...)"

    def sniff(self, sample: Sample) -> float:
        """Fraction of sample lines that are JSON objects with Traefik's access-log keys."""
        if not sample.lines:
            return 0.0
        line = pl.col("line")
        found = pl.sum_horizontal(
            [line.str.json_path_match(key_path(k)).is_not_null().cast(pl.Int32) for k in MARKERS]
        )
        ok = is_json_object(line) & (found >= 3)
        return float(sample.frame().select(ok.fill_null(False).mean()).item() or 0.0)

    def parse(self, source: Source) -> ParseResult:
        """Parse one chunk of JSON lines."""
        field = _Keys()
        stamp = field("StartUTC", "StartLocal", "time")
        parsed = parse_iso8601(stamp, source.settings.timezone)
        events = _events(field, key_names(source.lines.get_column("line")))
        frame = (
            field.paths.decode(source.lines)
            .with_columns(
                stamp.alias("_stamp"),
                parsed.ts.alias("ts_source"),
                parsed.assumed_tz.alias("ts_assumed_tz"),
            )
            .with_columns(
                first_reason(
                    [
                        (~object_from(pl.col("line"), jp(ROOT)), "not a JSON object"),
                        (pl.col("_stamp").is_null(), "no StartUTC"),
                        (pl.col("ts_source").is_null(), "StartUTC is not ISO 8601"),
                    ]
                ).alias("_reason")
            )
        )
        bad = frame.filter(pl.col("_reason").is_not_null())
        good = frame.filter(pl.col("_reason").is_null())
        return ParseResult(events=good.select(events), rejects=marks(bad, pl.col("_reason")))


def _events(field: _Keys, names: list[str]) -> list[pl.Expr]:
    code = integer(field("DownstreamStatus"))
    path = field("RequestPath")
    request_id = field("request_X-Request-Id", "request_X-Request-ID", "request_x-request-id")
    xff = field("request_X-Forwarded-For", "request_x-forwarded-for")
    service_url = _service_url(field)
    msg = field("msg")
    return [
        pl.col("source_line"),
        pl.col("ts_source"),
        pl.col("_stamp").alias("ts_raw"),
        pl.col("ts_assumed_tz"),
        # StartUTC / StartLocal is when the request began; `time` (the fallback) is when it was logged.
        pl.when(field("StartUTC", "StartLocal").is_not_null())
        .then(pl.lit("http.request"))
        .otherwise(pl.lit("http.response"))
        .alias("event_type"),
        severity(field("level")).alias("severity"),
        code.alias("status_code"),
        http_status(code).alias("status"),
        msg.alias("message"),
        field("RequestMethod").alias("http_method"),
        route(path).alias("http_route"),
        pl.coalesce(first_hop(xff), field("ClientHost")).alias("client_address"),
        pl.coalesce(field("ServiceAddr"), service_url).alias("upstream"),
        _ns_to_ms(field("Duration")).alias("duration_ms"),
        request_id.alias("request_id"),
        field("TraceId", "trace_id").alias("trace_id"),
        field("SpanId", "span_id").alias("span_id"),
        field("ClientUsername").alias("user_id"),
        id_list(
            {
                "x_request_id": request_id,
                "traceparent": field("request_Traceparent", "request_traceparent"),
            }
        ).alias("ids"),
        attributes(
            {
                "router_name": field("RouterName"),
                "service_name": field("ServiceName"),
                "service_url": service_url,
                "entry_point": field("entryPointName"),
                "origin_status": field("OriginStatus"),
                "origin_duration_ms": _ns_to_ms(field("OriginDuration")),
                "overhead_ms": _ns_to_ms(field("Overhead")),
                "retry_attempts": field("RetryAttempts"),
                "request_count": field("RequestCount"),
                "bytes_received": field("RequestContentSize"),
                "bytes_sent": field("DownstreamContentSize"),
                "origin_content_size": field("OriginContentSize"),
                "request_host": field("RequestHost"),
                "protocol": field("RequestProtocol"),
                "scheme": field("RequestScheme"),
                "query": query(path),
                "client_addr": field("ClientAddr"),
                "tls_version": field("TLSVersion"),
                "user_agent": field("request_User-Agent"),
                "referer": field("request_Referer"),
                "x_forwarded_for": xff,
                "start_local": field("StartLocal"),
            },
            field.rest(names),
        ).alias("attributes"),
    ]
