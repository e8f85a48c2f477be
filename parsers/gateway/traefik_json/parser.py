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

from parsers.gateway._common import (
    attributes,
    decoded_fields,
    decoded_object,
    field,
    first_hop,
    integer,
    is_json_object,
    json_field,
    number,
    query,
    route,
    text,
)
from timeline.parserkit.api import ParseResult, Sample, Source, marks
from timeline.parserkit.frame import first_reason, http_status, id_list, severity
from timeline.parserkit.timestamps import parse_iso8601

MARKERS: Final = ("StartUTC", "DownstreamStatus", "RequestMethod", "RouterName", "Duration")


# Every top-level key the parser reads; decoded once per chunk (timeline.parserkit.jsonpaths).
_KEYS: set[str] = set()


def _field(*keys: str) -> pl.Expr:
    """The first non-null of several spellings of a key (header names vary in case)."""
    _KEYS.update(keys)
    return pl.coalesce([text(field(k)) for k in keys])


def _ns_to_ms(expr: pl.Expr) -> pl.Expr:
    """Go durations in nanoseconds to milliseconds (rounded to the nanosecond)."""
    return (number(expr) / 1e6).round(6)


def _service_url() -> pl.Expr:
    """ServiceURL as text: a string, or ``Scheme://Host/Path`` built from a url.URL object."""
    _KEYS.add("ServiceURL")
    raw = field("ServiceURL")
    as_object = raw.str.starts_with("{")
    built = pl.concat_str(
        [
            raw.str.json_path_match("$.Scheme"),
            pl.lit("://"),
            raw.str.json_path_match("$.Host"),
            raw.str.json_path_match("$.Path").fill_null(""),
        ]
    )
    return text(pl.when(as_object).then(built).otherwise(raw))


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
            [json_field(line, k).is_not_null().cast(pl.Int32) for k in MARKERS]
        )
        ok = is_json_object(line) & (found >= 3)
        return float(sample.frame().select(ok.fill_null(False).mean()).item() or 0.0)

    def parse(self, source: Source) -> ParseResult:
        """Parse one chunk of JSON lines."""
        stamp = _field("StartUTC", "StartLocal", "time")
        parsed = parse_iso8601(stamp, source.settings.timezone)
        events = _events()
        frame = (
            decoded_fields(source.lines, _KEYS)
            .with_columns(
                stamp.alias("_stamp"),
                parsed.ts.alias("ts_source"),
                parsed.assumed_tz.alias("ts_assumed_tz"),
            )
            .with_columns(
                first_reason(
                    [
                        (~decoded_object(pl.col("line")), "not a JSON object"),
                        (pl.col("_stamp").is_null(), "no StartUTC"),
                        (pl.col("ts_source").is_null(), "StartUTC is not ISO 8601"),
                    ]
                ).alias("_reason")
            )
        )
        bad = frame.filter(pl.col("_reason").is_not_null())
        good = frame.filter(pl.col("_reason").is_null())
        return ParseResult(events=good.select(events), rejects=marks(bad, pl.col("_reason")))


def _events() -> list[pl.Expr]:
    code = integer(_field("DownstreamStatus"))
    path = _field("RequestPath")
    request_id = _field("request_X-Request-Id", "request_X-Request-ID", "request_x-request-id")
    xff = _field("request_X-Forwarded-For", "request_x-forwarded-for")
    service_url = _service_url()
    msg = _field("msg")
    return [
        pl.col("source_line"),
        pl.col("ts_source"),
        pl.col("_stamp").alias("ts_raw"),
        pl.col("ts_assumed_tz"),
        # StartUTC / StartLocal is when the request began; `time` (the fallback) is when it was logged.
        pl.when(_field("StartUTC", "StartLocal").is_not_null())
        .then(pl.lit("http.request"))
        .otherwise(pl.lit("http.response"))
        .alias("event_type"),
        severity(_field("level")).alias("severity"),
        code.alias("status_code"),
        http_status(code).alias("status"),
        msg.alias("message"),
        _field("RequestMethod").alias("http_method"),
        route(path).alias("http_route"),
        pl.coalesce(first_hop(xff), _field("ClientHost")).alias("client_address"),
        pl.coalesce(_field("ServiceAddr"), service_url).alias("upstream"),
        _ns_to_ms(_field("Duration")).alias("duration_ms"),
        request_id.alias("request_id"),
        _field("TraceId", "trace_id").alias("trace_id"),
        _field("SpanId", "span_id").alias("span_id"),
        _field("ClientUsername").alias("user_id"),
        id_list(
            {
                "x_request_id": request_id,
                "traceparent": _field("request_Traceparent", "request_traceparent"),
            }
        ).alias("ids"),
        attributes(
            {
                "router_name": _field("RouterName"),
                "service_name": _field("ServiceName"),
                "service_url": service_url,
                "entry_point": _field("entryPointName"),
                "origin_status": _field("OriginStatus"),
                "origin_duration_ms": _ns_to_ms(_field("OriginDuration")),
                "overhead_ms": _ns_to_ms(_field("Overhead")),
                "retry_attempts": _field("RetryAttempts"),
                "request_count": _field("RequestCount"),
                "bytes_received": _field("RequestContentSize"),
                "bytes_sent": _field("DownstreamContentSize"),
                "origin_content_size": _field("OriginContentSize"),
                "request_host": _field("RequestHost"),
                "protocol": _field("RequestProtocol"),
                "scheme": _field("RequestScheme"),
                "query": query(path),
                "client_addr": _field("ClientAddr"),
                "tls_version": _field("TLSVersion"),
                "user_agent": _field("request_User-Agent"),
                "referer": _field("request_Referer"),
                "x_forwarded_for": xff,
                "start_local": _field("StartLocal"),
            }
        ).alias("attributes"),
    ]
