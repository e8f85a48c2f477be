"""Envoy's default text access log, Istio's extended default, and Ambassador's ``ACCESS`` prefix.

Envoy's default format string::

    [%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%"
    %RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION%
    %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%"
    "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"

Istio (1.9+) inserts ``%RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS%
"%UPSTREAM_TRANSPORT_FAILURE_REASON%"`` after the flags (older Istio: a quoted mixer status and
the failure reason) and appends ``%UPSTREAM_CLUSTER% %UPSTREAM_LOCAL_ADDRESS%
%DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME%``.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from parsers.gateway._envoy import FIELDS, envoy_frame, start_times
from timeline.parserkit.api import ParseResult, Sample, Source, marks
from timeline.parserkit.frame import first_reason
from timeline.parserkit.text import clean
from timeline.parserkit.timestamps import parse_iso8601

_Q: Final = r'"(?P<{}>[^"]*)"'
_ISTIO_TAIL: Final = (
    r"(?: (?P<upstream_cluster>\S+) (?P<upstream_local_address>\S+)"
    r" (?P<downstream_local_address>\S+) (?P<downstream_remote_address>\S+)"
    r" (?P<requested_server_name>\S+) (?P<route_name>\S+))?"
)
LINE_RE: Final = (
    r"^(?:(?P<prefix>[A-Z]+) )?\[(?P<start_time>\d{4}-\d\d-\d\dT[^\]\s]+)\] "
    # the request line: method, path and protocol when it is three words, else just text
    r'"(?:(?P<method>[^\s"]+) (?P<path>[^\s"]+) (?P<protocol>[^\s"]+)|[^"]*)"'
    r' (?P<response_code>\d+|-) (?P<response_flags>[^\s"]+)'
    r"(?: (?P<response_code_details>[^\s\"]+) (?P<connection_termination_details>[^\s\"]+))?"
    r'(?: "(?P<q1>[^"]*)")?(?: "(?P<q2>[^"]*)")?'
    r" (?P<bytes_received>\d+|-) (?P<bytes_sent>\d+|-) (?P<duration>\d+|-)"
    r" (?P<upstream_service_time>\S+) "
    + " ".join(
        _Q.format(n)
        for n in ("x_forwarded_for", "user_agent", "request_id", "authority", "upstream_host")
    )
    + _ISTIO_TAIL
    + r"(?P<tail>\s.*)?$"
)


class EnvoyTextParser:
    """Envoy / Istio / Ambassador access logs in the default text format (HTTP and TCP)."""

    name = "envoy_text"
    layer = "gateway"
    description = "Envoy access log, default text format (also Istio's extended default and Ambassador's ACCESS prefix)"

    def sniff(self, sample: Sample) -> float:
        """Fraction of sample lines with the Envoy default shape and an ISO start time."""
        if not sample.lines:
            return 0.0
        frame = _extract(sample.frame())
        ok = pl.col("_ok") & parse_iso8601(pl.col("start_time")).ts.is_not_null()
        return float(frame.select(ok.fill_null(False).mean()).item() or 0.0)

    def parse(self, source: Source) -> ParseResult:
        """Parse one chunk of access-log lines."""
        frame = _extract(source.lines)
        times = start_times(frame.get_column("start_time"), source.settings.timezone)
        frame = frame.with_columns(times.get_column("ts_utc").alias("_ts_utc")).with_columns(
            first_reason(
                [
                    (~pl.col("_ok"), "does not match the Envoy default access log format"),
                    (pl.col("_ts_utc").is_null(), "start time is not ISO 8601"),
                ]
            ).alias("_reason")
        )
        good_rows = frame.get_column("_reason").is_null()
        bad = frame.filter(~good_rows)
        events = envoy_frame(
            frame.filter(good_rows),
            times.filter(good_rows),
            {
                "log_prefix": pl.col("prefix"),
                "mixer_status": clean(pl.col("mixer_status")),
                "extra": clean(pl.col("tail")),
            },
        )
        return ParseResult(events=events, rejects=marks(bad, pl.col("_reason")))


def _extract(lines: pl.DataFrame) -> pl.DataFrame:
    """Envoy fields as String columns (Istio's key names) plus ``_ok``."""
    frame = (
        lines.select(
            "source_line",
            pl.col("line").str.extract_groups("(?P<_ok>)" + LINE_RE).alias("_g"),
        )
        .unnest("_g")
        .with_columns(pl.col("_ok").is_not_null())
    )
    two_quoted = pl.col("q2").is_not_null()
    return frame.with_columns(
        pl.when(two_quoted)
        .then(pl.col("q2"))
        .otherwise(pl.col("q1"))
        .alias("upstream_transport_failure_reason"),
        pl.when(two_quoted).then(pl.col("q1")).alias("mixer_status"),
    ).select("source_line", "_ok", *FIELDS, "prefix", "mixer_status", "tail")
