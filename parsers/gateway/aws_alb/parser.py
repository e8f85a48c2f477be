"""AWS Elastic Load Balancing access logs: Application Load Balancer (ALB) and Classic ELB.

An ALB entry is space-delimited, new fields are only ever appended at the end::

    type time elb client:port target:port request_processing_time target_processing_time
    response_processing_time elb_status_code target_status_code received_bytes sent_bytes
    "request" "user_agent" ssl_cipher ssl_protocol target_group_arn "trace_id" "domain_name"
    "chosen_cert_arn" matched_rule_priority request_creation_time "actions_executed"
    "redirect_url" "error_reason" "target:port_list" "target_status_code_list"
    "classification" "classification_reason" conn_trace_id

A Classic ELB entry is the same line up to ``ssl_protocol`` without the leading ``type`` (and
``backend`` in place of ``target``)::

    time elb client:port backend:port request_processing_time backend_processing_time
    response_processing_time elb_status_code backend_status_code received_bytes sent_bytes
    "request" "user_agent" ssl_cipher ssl_protocol

The two differ in what ``time`` means: an ALB logs the time it generated the response (the
close of the connection for WebSockets), a Classic ELB the time it received the request. So ALB
lines are ``http.response`` events (they end at ``ts``) and Classic lines ``http.request`` events
(they begin at ``ts``). ALB lines written before a field existed simply stop earlier; fields
appended after ``conn_trace_id`` that this parser does not know are kept in ``attributes.extra``.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from timeline.parserkit.api import ParseResult, Sample, Source, marks
from timeline.parserkit.frame import first_reason, http_status
from timeline.parserkit.http import query, route
from timeline.parserkit.ids import id_list
from timeline.parserkit.kv import attributes
from timeline.parserkit.text import clean, integer, number
from timeline.parserkit.timestamps import parse_iso8601

# The inside of a double-quoted field: backslash escapes (\" \\ \xNN) allowed.
_Q: Final = r'(?:[^"\\]|\\.)*'
_ISO: Final = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z"
# An address with a port (IPv4, IPv6 with or without brackets), or "-".
_ADDR: Final = r"(?:[0-9A-Fa-f.:\[\]]+:\d+|-)"
_SECONDS: Final = r"(?:-1|\d+(?:\.\d+)?)"
LINE_RE: Final = (
    r"^(?:(?P<type>[a-z][a-z0-9]*) )?"
    rf"(?P<time>{_ISO}) (?P<elb>\S+) (?P<client>{_ADDR}) (?P<target>{_ADDR})"
    rf" (?P<request_processing_time>{_SECONDS}) (?P<target_processing_time>{_SECONDS})"
    rf" (?P<response_processing_time>{_SECONDS})"
    r" (?P<elb_status_code>\d{3}|-) (?P<target_status_code>\d{1,3}|-)"
    r" (?P<received_bytes>\d+|-) (?P<sent_bytes>\d+|-)"
    rf' "(?P<request>{_Q})" "(?P<user_agent>{_Q})"'
    r" (?P<ssl_cipher>\S+) (?P<ssl_protocol>\S+)"
    r"(?P<tail>(?:\s.*)?)$"
)
# The fields after ssl_protocol, in the order AWS appended them over the years; each one is
# optional once the previous one is there, anything after the last known one is `extra`.
_TAIL_FIELDS: Final = (
    rf' "(?P<trace_id>{_Q})"',
    rf' "(?P<domain_name>{_Q})"',
    rf' "(?P<chosen_cert_arn>{_Q})"',
    r" (?P<matched_rule_priority>-?\d+|-)",
    rf" (?P<request_creation_time>{_ISO}|-)",
    rf' "(?P<actions_executed>{_Q})"',
    rf' "(?P<redirect_url>{_Q})"',
    rf' "(?P<error_reason>{_Q})"',
    rf' (?P<target_port_list>"{_Q}"|[^\s"]+)',
    rf' (?P<target_status_code_list>"{_Q}"|[^\s"]+)',
    rf' "(?P<classification>{_Q})"',
    rf' "(?P<classification_reason>{_Q})"',
    r' (?P<conn_trace_id>[^\s"]+)',
)
TAIL_RE: Final = (
    r"^ (?P<target_group_arn>arn:\S+|-)"
    + "".join(f"(?:{f}" for f in _TAIL_FIELDS)
    + ")?" * len(_TAIL_FIELDS)
    + r"(?P<extra>.*)$"
)
TAIL_NAMES: Final = (
    "target_group_arn",
    "trace_id",
    "domain_name",
    "chosen_cert_arn",
    "matched_rule_priority",
    "request_creation_time",
    "actions_executed",
    "redirect_url",
    "error_reason",
    "target_port_list",
    "target_status_code_list",
    "classification",
    "classification_reason",
    "conn_trace_id",
    "extra",
)
# The request line: method, URL (may hold blanks: AWS logs it as the client sent it), version.
# Malformed requests are logged as "- http://host:port- -"; Classic TCP listeners as "- - - ".
REQUEST_RE: Final = r"^(?P<method>\S*) (?P<url>.*?)(?: (?P<protocol>-|[A-Za-z]+/[\d.]+))? ?$"
URL_RE: Final = (
    r"^(?:(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<authority>[^/?#\s]*))?(?P<target>.*)$"
)
AUTHORITY_RE: Final = r"^(?P<host>\[[^\]]*\]|[^:]*)(?::(?P<port>\d+))?"
# The head of an ELB line: used to tell a damaged ELB line from a foreign one.
_HEAD_RE: Final = rf"^(?:[a-z][a-z0-9]* )?{_ISO} \S+ \S+:\d+ "
_NLB_RE: Final = r"^(?:tls|tcp|udp|tcp_udp) \d+\.\d+ \d{4}-\d\d-\d\dT"
TAIL_PREFIX: Final = "_t:"
# Tail fields written in double quotes (escapes undone).
QUOTED_TAIL: Final = (
    "trace_id",
    "domain_name",
    "chosen_cert_arn",
    "actions_executed",
    "redirect_url",
    "error_reason",
    "classification",
    "classification_reason",
)
NO_RESPONSE_NOTE: Final = (
    "a timing is -1: the request was not dispatched to a target or the target did not answer"
)


def unescape(expr: pl.Expr) -> pl.Expr:
    """Undo the ``\\"`` and ``\\\\`` escapes of a quoted ELB field (``\\xNN`` is kept)."""
    return expr.str.replace_all(r'\\(["\\])', "${1}")


def split_address(address: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """``ip:port`` -> (ip, port), splitting at the last colon: ELB logs IPv6 clients without
    brackets (``2001:db8::7:443``); brackets (``[2001:db8::7]:443``) are removed too."""
    parts = clean(address).str.extract_groups(r"^(?P<ip>.+):(?P<port>\d+)$")
    ip = parts.struct.field("ip").str.replace(r"^\[(.*)\]$", "${1}")
    return ip, parts.struct.field("port")


def unquote_list(expr: pl.Expr) -> pl.Expr:
    """A maybe-quoted list field (``"10.0.0.1:80 10.0.0.2:80"`` or ``10.0.0.1:80``) as plain text."""
    return clean(expr.str.replace(r'^"(.*)"$', "${1}"))


def amzn_trace_hex(trace: pl.Expr) -> pl.Expr:
    """The 32-hex trace id in an ``X-Amzn-Trace-Id`` value (``Root=1-<8 hex>-<24 hex>``)."""
    root = trace.str.extract_groups(
        r"(?:^|;)\s*Root=1-(?P<a>[0-9A-Fa-f]{8})-(?P<b>[0-9A-Fa-f]{24})\b"
    )
    return pl.concat_str(root.struct.field("a"), root.struct.field("b")).str.to_lowercase()


class AwsAlbParser:
    """AWS Application Load Balancer and Classic ELB access logs (one parser, both formats)."""

    name = "aws_alb"
    layer = "gateway"
    description = (
        "AWS Elastic Load Balancing access log: Application Load Balancer (ALB) and Classic ELB"
    )

    def sniff(self, sample: Sample) -> float:
        """Fraction of sample lines with the ELB shape and a valid ISO 8601 time."""
        if not sample.lines:
            return 0.0
        frame = _extract(sample.frame())
        ok = pl.col("_ok") & parse_iso8601(pl.col("time")).ts.is_not_null()
        return float(frame.select(ok.fill_null(False).mean()).item() or 0.0)

    def parse(self, source: Source) -> ParseResult:
        """Parse one chunk of access-log lines."""
        parsed = parse_iso8601(pl.col("time"), source.settings.timezone)
        frame = _extract(source.lines).with_columns(
            parsed.ts.alias("ts_source"), parsed.assumed_tz.alias("ts_assumed_tz")
        )
        line = pl.col("line")
        frame = frame.with_columns(
            first_reason(
                [
                    (
                        ~pl.col("_ok") & line.str.contains(_NLB_RE),
                        "a Network Load Balancer line (not an ALB or Classic ELB line)",
                    ),
                    (
                        ~pl.col("_ok") & line.str.contains(_HEAD_RE),
                        "malformed ELB line: fields after client:port missing or out of place",
                    ),
                    (~pl.col("_ok"), "not an ALB or Classic ELB access log line"),
                    (pl.col("ts_source").is_null(), "time is not a valid ISO 8601 timestamp"),
                ]
            ).alias("_reason")
        )
        bad = frame.filter(pl.col("_reason").is_not_null())
        good = (
            frame.filter(pl.col("_reason").is_null())
            .with_columns(_shared())
            .with_columns(_tail_fields())
        )
        return ParseResult(
            events=good.select(_events()),
            rejects=marks(bad, pl.col("_reason")),
        )


def _extract(lines: pl.DataFrame) -> pl.DataFrame:
    """The fields of :data:`LINE_RE` as String columns plus ``_ok`` (and ``line``)."""
    return (
        lines.select(
            "source_line",
            "line",
            pl.col("line").str.extract_groups("(?P<_ok>)" + LINE_RE).alias("_g"),
        )
        .unnest("_g")
        .with_columns(pl.col("_ok").is_not_null())
    )


def _shared() -> list[pl.Expr]:
    """Intermediate columns many event columns read (computed once)."""
    is_alb = pl.col("type").is_not_null()
    tail = pl.col("tail").fill_null("")
    request = unescape(pl.col("request")).str.extract_groups(REQUEST_RE)
    url = clean(request.struct.field("url")).str.extract_groups(URL_RE)
    return [
        pl.when(is_alb).then(tail.str.extract_groups(TAIL_RE)).alias("_tail"),
        request.alias("_request"),
        url.alias("_url"),
        url.struct.field("authority").str.extract_groups(AUTHORITY_RE).alias("_authority"),
    ]


def _tail_fields() -> list[pl.Expr]:
    """The ALB tail fields as clean text columns ``_t:<name>`` (computed once, read often)."""
    field = {name: clean(pl.col("_tail").struct.field(name)) for name in TAIL_NAMES}
    tidy = {
        name: unquote_list(value)
        if name in ("target_port_list", "target_status_code_list")
        else clean(unescape(value))
        if name in QUOTED_TAIL
        else value
        for name, value in field.items()
    }
    # A tail that did not fit the known fields at all (Classic lines too) is kept whole.
    tidy["extra"] = pl.coalesce(
        field["extra"],
        pl.when(pl.col("_tail").struct.field("target_group_arn").is_null()).then(
            clean(pl.col("tail"))
        ),
    )
    return [value.alias(TAIL_PREFIX + name) for name, value in tidy.items()]


def _events() -> list[pl.Expr]:
    is_alb = pl.col("type").is_not_null()
    t = {name: pl.col(TAIL_PREFIX + name) for name in TAIL_NAMES}
    request = pl.col("_request")
    method = clean(request.struct.field("method"))
    protocol = clean(request.struct.field("protocol"))
    url_target = pl.col("_url").struct.field("target")
    client_ip, client_port = split_address(pl.col("client"))
    target = clean(pl.col("target"))
    timings = [
        number(pl.col(c))
        for c in ("request_processing_time", "target_processing_time", "response_processing_time")
    ]
    no_response = pl.any_horizontal([x < 0 for x in timings]).fill_null(False)
    duration = pl.when(~no_response).then((pl.sum_horizontal(timings) * 1000.0).round(3))
    code = integer(pl.col("elb_status_code"))
    target_code = clean(pl.col("target_status_code"))
    is_tcp = pl.col("request").str.contains(r"^- - - ?$").fill_null(False)
    last_action = t["actions_executed"].str.extract(r"(?:^|,)([^,]+)$", 1)
    status = (
        pl.when(last_action == "waf")
        .then(pl.lit("blocked"))
        .when(code == 460)  # ALB: the client closed the connection before the response
        .then(pl.lit("cancelled"))
        .when(code.is_not_null())
        .then(http_status(code))
        .when(no_response)
        .then(pl.lit("error"))
        .when(is_tcp)
        .then(pl.lit("ok"))
    )
    error_reason = t["error_reason"]
    lambda_target = target.is_null() & (
        target_code.is_not_null() | error_reason.str.starts_with("Lambda").fill_null(False)
    )
    trace = t["trace_id"]
    return [
        pl.col("source_line"),
        pl.col("ts_source"),
        pl.col("time").alias("ts_raw"),
        pl.col("ts_assumed_tz"),
        # ALB: time the response was generated (end); Classic ELB: time the request arrived (start).
        pl.when(is_alb)
        .then(pl.lit("http.response"))
        .otherwise(pl.lit("http.request"))
        .alias("event_type"),
        pl.col("elb").alias("host"),
        code.alias("status_code"),
        status.alias("status"),
        pl.coalesce(error_reason, pl.when(status != "ok").then(t["classification_reason"])).alias(
            "error_type"
        ),
        method.alias("http_method"),
        route(url_target).alias("http_route"),
        client_ip.alias("client_address"),
        pl.coalesce(target, pl.when(lambda_target).then(t["target_group_arn"])).alias("upstream"),
        duration.alias("duration_ms"),
        amzn_trace_hex(trace).alias("trace_id"),
        id_list({"x_amzn_trace_id": trace}).alias("ids"),
        attributes(
            {
                "elb_type": pl.when(is_alb)
                .then(pl.lit("application"))
                .otherwise(pl.lit("classic")),
                "type": pl.col("type"),
                "connection": pl.when(is_tcp).then(pl.lit("tcp")),
                "client_port": client_port,
                "request_processing_time": pl.col("request_processing_time"),
                "target_processing_time": pl.when(is_alb).then(pl.col("target_processing_time")),
                "backend_processing_time": pl.when(~is_alb).then(pl.col("target_processing_time")),
                "response_processing_time": pl.col("response_processing_time"),
                "duration_unavailable": pl.when(no_response).then(pl.lit(NO_RESPONSE_NOTE)),
                "upstream_status": target_code,
                "bytes_received": pl.col("received_bytes"),
                "bytes_sent": pl.col("sent_bytes"),
                "protocol": protocol,
                "scheme": pl.col("_url").struct.field("scheme"),
                "http_host": pl.col("_authority").struct.field("host"),
                "listener_port": pl.col("_authority").struct.field("port"),
                "query": query(url_target),
                "request": pl.when(method.is_null() & ~is_tcp).then(unescape(pl.col("request"))),
                "user_agent": unescape(pl.col("user_agent")),
                "ssl_cipher": pl.col("ssl_cipher"),
                "ssl_protocol": pl.col("ssl_protocol"),
                "target_group_arn": t["target_group_arn"],
                "domain_name": t["domain_name"],
                "chosen_cert_arn": t["chosen_cert_arn"],
                "matched_rule_priority": t["matched_rule_priority"],
                "request_creation_time": t["request_creation_time"],
                "actions_executed": t["actions_executed"],
                "redirect_url": t["redirect_url"],
                "error_reason": error_reason,
                "target_port_list": t["target_port_list"],
                "target_status_code_list": t["target_status_code_list"],
                "classification": t["classification"],
                "classification_reason": t["classification_reason"],
                "conn_trace_id": t["conn_trace_id"],
                "extra": t["extra"],
            }
        ).alias("attributes"),
    ]
