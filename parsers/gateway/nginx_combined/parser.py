"""nginx (and Apache) access logs in the `combined` format and its common variants.

The core is the predefined format::

    log_format combined '$remote_addr - $remote_user [$time_local] '
                        '"$request" $status $body_bytes_sent '
                        '"$http_referer" "$http_user_agent"';

Variants handled on top of it:

* a leading ``$host`` (virtual host) before the address;
* an X-Forwarded-For chain in place of ``$remote_addr`` (comma lists, IPv6, optionally quoted
  and followed by the peer address): ``client_address`` is the first hop, the chain is kept;
* anything appended after the user agent: ``key=value`` pairs (``rt=``, ``urt=``, ``uct=``,
  ``uht=``, ``ua=``, ``us=``, ``cs=``, ``request_id=`` ...), a bare or quoted ``$request_id``
  (32 hex digits), and further quoted fields such as the ``main`` format's
  ``"$http_x_forwarded_for"``;
* the ``common`` format (no referer and user agent) and empty or ``-`` requests.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from timeline.parserkit import logfmt
from timeline.parserkit.api import ParseResult, Sample, Source, marks
from timeline.parserkit.frame import first_reason, http_status
from timeline.parserkit.http import IP_LIST_RE, IP_RE, first_hop, query, route
from timeline.parserkit.ids import id_list
from timeline.parserkit.kv import attributes
from timeline.parserkit.text import QUOTED_RE, clean, number, unquote
from timeline.parserkit.timestamps import parse_pattern

TIME_FORMAT: Final = "%d/%b/%Y:%H:%M:%S %z"
_Q: Final = r'(?:[^"\\]|\\.)*'
LINE_RE: Final = (
    r"^(?P<prefix>\S.*?) - (?P<remote_user>\S+) \[(?P<time_local>[^\]]*)\] "
    rf'"(?P<request>{_Q})" (?P<status>\d{{3}}) (?P<bytes>\d+|-)'
    rf'(?: "(?P<referer>{_Q})" "(?P<user_agent>{_Q})")?'
    r"(?P<tail>(?:\s.*)?)$"
)
REQUEST_RE: Final = (
    r"^(?P<method>[A-Z][A-Z0-9_-]*) (?P<target>\S+)(?: (?P<protocol>[A-Z]+/[\d.]+))?$"
)
_HEX32: Final = r"[0-9a-fA-F]{32}"
# Short keys of popular appended formats (nginx docs' `upstream_time`, Amplify's `main_ext`).
KEY_NAMES: Final = {
    "rt": "request_time",
    "urt": "upstream_response_time",
    "ut": "upstream_response_time",
    "uct": "upstream_connect_time",
    "uht": "upstream_header_time",
    "ua": "upstream_addr",
    "us": "upstream_status",
    "ul": "upstream_response_length",
    "cs": "upstream_cache_status",
    "sn": "server_name",
    "rid": "request_id",
    "req_id": "request_id",
}
# Keys that become canonical columns (left out of the attributes).
_CANONICAL_KEYS: Final = ("request_time", "upstream_addr", "request_id")


def _pair_value(pairs: pl.Expr, key: str) -> pl.Expr:
    found = pairs.list.filter(pl.element().struct.field("key") == key)
    return clean(found.list.first().struct.field("value"))


def _extras(tail: pl.Expr) -> pl.Expr:
    """Positional tail fields (quoted or bare), without key=value pairs and the request id."""
    rest = logfmt.without_pairs(tail)
    return rest.str.extract_all(rf"{QUOTED_RE}|\S+").list.filter(
        ~pl.element().str.contains(rf'^"?{_HEX32}"?$')
    )


class NginxCombinedParser:
    """nginx `combined` access logs and common variants (vhost, XFF chains, appended timings)."""

    name = "nginx_combined"
    layer = "gateway"
    description = "nginx/Apache access log: `combined` (or `common`/`main`) with common variants"

    def sniff(self, sample: Sample) -> float:
        """Fraction of sample lines with the combined shape and a valid timestamp."""
        if not sample.lines:
            return 0.0
        frame = self._extract(sample.frame())
        ts = parse_pattern(pl.col("time_local"), TIME_FORMAT).ts
        ok = pl.col("_ok") & ts.is_not_null()
        return float(frame.select(ok.fill_null(False).mean()).item() or 0.0)

    def parse(self, source: Source) -> ParseResult:
        """Parse one chunk of access-log lines."""
        frame = self._extract(source.lines)
        parsed = parse_pattern(pl.col("time_local"), TIME_FORMAT, source.settings.timezone)
        frame = frame.with_columns(
            parsed.ts.alias("ts_source"),
            parsed.assumed_tz.alias("ts_assumed_tz"),
        ).with_columns(
            first_reason(
                [
                    (~pl.col("_ok"), "does not match the nginx_combined pattern"),
                    (
                        pl.col("ts_source").is_null(),
                        "timestamp is not [dd/Mon/yyyy:HH:MM:SS ±zzzz]",
                    ),
                ]
            ).alias("_reason")
        )
        bad = frame.filter(pl.col("_reason").is_not_null())
        good = frame.filter(pl.col("_reason").is_null())
        return ParseResult(
            events=good.with_columns(self._shared()).select(self._events()),
            rejects=marks(bad, pl.col("_reason")),
        )

    # -- internals ------------------------------------------------------------------------------
    @staticmethod
    def _extract(lines: pl.DataFrame) -> pl.DataFrame:
        line = pl.col("line")
        return (
            lines.select(
                "source_line",
                line.str.extract_groups("(?P<_ok>)" + LINE_RE).alias("_g"),
            )
            .unnest("_g")
            .with_columns(pl.col("_ok").is_not_null())
        )

    @staticmethod
    def _shared() -> list[pl.Expr]:
        """Intermediate columns many event columns read (computed once, not once per use)."""
        tail = pl.col("tail").fill_null("")
        return [
            pl.col("prefix").str.extract_all(r'[^\s,"]+').alias("_tokens"),
            logfmt.pairs(tail, KEY_NAMES).alias("_pairs"),
            _extras(tail).alias("_extras"),
            pl.col("request").str.extract_groups(REQUEST_RE).alias("_request"),
        ]

    @staticmethod
    def _events() -> list[pl.Expr]:
        prefix = pl.col("prefix")
        tokens = pl.col("_tokens")
        first = tokens.list.first()
        # "vhost addr ..." : the first token is a host name, separated by a blank (not a comma).
        has_vhost = (
            (tokens.list.len() >= 2)
            & prefix.str.contains(r'^[^\s,"]+\s+[^\s,]')
            & ~first.str.contains(rf"^{IP_RE}$")
        )
        addresses = pl.when(has_vhost).then(tokens.list.slice(1)).otherwise(tokens)
        tail = pl.col("tail").fill_null("")
        pairs = pl.col("_pairs")
        extras = pl.col("_extras")
        extra = [clean(unquote(extras.list.get(i, null_on_oob=True))) for i in range(3)]
        # The `main` format appends "$http_x_forwarded_for": a quoted address list.
        xff_tail = pl.when(extra[0].str.contains(rf"^{IP_LIST_RE}$")).then(extra[0])
        chain = pl.when(addresses.list.len() > 1).then(addresses.list.join(", "))
        request = pl.col("_request")
        target = request.struct.field("target")
        request_id = pl.coalesce(
            _pair_value(pairs, "request_id"),
            tail.str.extract(rf'(?:^|\s)"?({_HEX32})"?(?:\s|$)', 1),
        )
        code = pl.col("status").cast(pl.Int64, strict=False)
        rest_pairs = pairs.list.filter(
            ~pl.element().struct.field("key").is_in(list(_CANONICAL_KEYS))
            & pl.element().struct.field("value").is_not_null()
            & ~pl.element().struct.field("value").is_in(["-", ""])
        )
        return [
            pl.col("source_line"),
            pl.col("ts_source"),
            pl.col("time_local").alias("ts_raw"),
            pl.col("ts_assumed_tz"),
            pl.lit("http.response").alias("event_type"),
            code.alias("status_code"),
            http_status(code).alias("status"),
            request.struct.field("method").alias("http_method"),
            route(target).alias("http_route"),
            pl.coalesce(first_hop(xff_tail), clean(addresses.list.first())).alias("client_address"),
            clean(pl.col("remote_user")).alias("user_id"),
            clean(_pair_value(pairs, "upstream_addr")).alias("upstream"),
            (number(_pair_value(pairs, "request_time")) * 1000.0).alias("duration_ms"),
            request_id.alias("request_id"),
            id_list({"x_request_id": request_id}).alias("ids"),
            attributes(
                {
                    "http_host": pl.when(has_vhost).then(first),
                    "remote_addr": pl.when(
                        (addresses.list.len() > 1) | xff_tail.is_not_null()
                    ).then(addresses.list.last()),
                    "address_chain": chain,
                    "x_forwarded_for": xff_tail,
                    "query": query(target),
                    "protocol": request.struct.field("protocol"),
                    "request": pl.when(target.is_null()).then(pl.col("request")),
                    "bytes_sent": pl.col("bytes"),
                    "referer": pl.col("referer"),
                    "user_agent": pl.col("user_agent"),
                    "extra_1": pl.when(xff_tail.is_null()).then(extra[0]),
                    "extra_2": extra[1],
                    "extra_3": extra[2],
                },
                rest_pairs,
            ).alias("attributes"),
        ]
