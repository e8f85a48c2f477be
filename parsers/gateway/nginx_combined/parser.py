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

from collections.abc import Callable
from typing import Final

import polars as pl

from timeline.parserkit import logfmt
from timeline.parserkit.api import ParseResult, Sample, Source, marks
from timeline.parserkit.frame import first_reason, http_status
from timeline.parserkit.http import IP_LIST_RE, IP_RE, first_hop, query, route
from timeline.parserkit.kv import kv_column
from timeline.parserkit.text import QUOTED_RE, clean, number, unquote
from timeline.parserkit.timestamps import parse_pattern
from timeline.schema import ID_STRUCT

TIME_FORMAT: Final = "%d/%b/%Y:%H:%M:%S %z"
_Q: Final = r'(?:[^"\\]|\\.)*'
LINE_RE: Final = (
    r"^(?P<prefix>\S.*?) - (?P<remote_user>\S+) \[(?P<time_local>[^\]]*)\] "
    rf'"(?P<request>{_Q})" (?P<status>\d{{3}}) (?P<bytes>\d+|-)'
    rf'(?: "(?P<referer>{_Q})" "(?P<user_agent>{_Q})")?'
    r"(?P<tail>(?:\s.*)?)$"
)
# LINE_RE after its prefix and " - ", for the lines most logs hold: the referer and user agent
# (and maybe a tail) or nothing after the size. Every choice is made by the next character, so
# the engine captures in one pass; LINE_RE's lazy prefix and optional fields make it backtrack
# (several times the cost).
REST_RE: Final = (
    rf'^(?P<remote_user>\S+) \[(?P<time_local>[^\]]*)\] "(?P<request>{_Q})" '
    r"(?P<status>\d{3}) (?P<bytes>\d+|-)"
    rf'(?: "(?P<referer>{_Q})" "(?P<user_agent>{_Q})"(?P<tail>(?:\s.*)?))?$'
)
_FIELDS: Final = (
    "source_line",
    "_ok",
    "prefix",
    "remote_user",
    "time_local",
    "request",
    "status",
    "bytes",
    "referer",
    "user_agent",
    "tail",
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
# Attributes whose values are clean already (blanks stripped, never a null token): the
# protocol (its pattern), the query and the appended fields (cleaned where read), the chain (two
# or more addresses joined by ", ").
_CLEAN: Final = frozenset(
    ("protocol", "query", "x_forwarded_for", "address_chain", "extra_1", "extra_2", "extra_3")
)
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
        frame = frame.with_columns(parsed.ts.alias("ts_source")).with_columns(
            # the format carries its offset: a parsed time never assumes a zone
            pl.when(pl.col("ts_source").is_not_null()).then(False).alias("ts_assumed_tz"),
            first_reason(
                [
                    (~pl.col("_ok"), "does not match the nginx_combined pattern"),
                    (
                        pl.col("ts_source").is_null(),
                        "timestamp is not [dd/Mon/yyyy:HH:MM:SS ±zzzz]",
                    ),
                ]
            ).alias("_reason"),
        )
        bad = frame.filter(pl.col("_reason").is_not_null())
        good = frame.filter(pl.col("_reason").is_null())
        return ParseResult(events=self._events(good), rejects=marks(bad, pl.col("_reason")))

    # -- internals ------------------------------------------------------------------------------
    @staticmethod
    def _extract(lines: pl.DataFrame) -> pl.DataFrame:
        """The groups of :data:`LINE_RE` per line and ``_ok`` (the line matched).

        Most lines are read as the text before their first " - " (the prefix) and
        :data:`REST_RE` on the text after it: LINE_RE's lazy prefix ends at the first " - " after
        which the rest matches, so where REST_RE matches the rest (a case of LINE_RE's rest with
        the same groups) and the prefix is one LINE_RE allows, both give the same groups. The
        other lines are read with LINE_RE, then every line is put back in its place."""
        split = pl.col("_split")
        prefix = pl.col("prefix")
        numbered = lines.select("source_line", "line").with_row_index("_at")
        fast = (
            numbered.select(
                "_at", "source_line", pl.col("line").str.splitn(" - ", 2).alias("_split")
            )
            .select(
                "_at",
                "source_line",
                split.struct.field("field_0").alias("prefix"),
                split.struct.field("field_1").str.extract_groups(REST_RE).alias("_g"),
            )
            .unnest("_g")
            .filter(pl.col("remote_user").is_not_null() & prefix.str.contains(r"^\S[^\n]*$"))
            # LINE_RE's tail matches the empty text where the line has no tail
            .with_columns(pl.lit(True).alias("_ok"), pl.col("tail").fill_null(""))
        )
        if fast.height == numbered.height:
            return fast.select(_FIELDS)
        others = (
            numbered.join(fast.select("_at"), on="_at", how="anti")
            .select("_at", "source_line", pl.col("line").str.extract_groups(LINE_RE).alias("_g"))
            .unnest("_g")
            .with_columns(prefix.is_not_null().alias("_ok"))
        )
        return (
            pl.concat([fast.select("_at", *_FIELDS), others.select("_at", *_FIELDS)])
            .sort("_at")
            .select(_FIELDS)
        )

    @staticmethod
    def _events(good: pl.DataFrame) -> pl.DataFrame:
        """The events of the lines that matched. The address list is read only on rows whose
        prefix is more than one address, the appended fields only on rows with a tail (most
        lines have neither); each derived column is computed once."""
        plain = pl.col("prefix").str.contains(r'^[^\s,"]+$')
        frame = good.with_columns(
            pl.col("request").str.extract_groups(REQUEST_RE).alias("_request"),
            plain.alias("_plain"),
        )
        frame = frame.hstack(
            _on_rows(frame, pl.col("tail").fill_null("") != "", _tail_columns)
        ).hstack(_on_rows(frame, ~pl.col("_plain"), _prefix_columns))
        one = pl.col("_plain")
        xff_tail = pl.col("_xff")
        n_addresses = pl.when(one).then(pl.lit(1, dtype=pl.UInt32)).otherwise(pl.col("_n"))
        request = pl.col("_request")
        target = request.struct.field("target")
        request_id = pl.col("_request_id")
        code = pl.col("status").cast(pl.Int64, strict=False)
        events = frame.select(
            pl.col("source_line"),
            pl.col("ts_source"),
            pl.col("time_local").alias("ts_raw"),
            pl.col("ts_assumed_tz"),
            pl.lit("http.response").alias("event_type"),
            code.alias("status_code"),
            http_status(code).alias("status"),
            request.struct.field("method").alias("http_method"),
            route(target).alias("http_route"),
            pl.coalesce(
                first_hop(xff_tail),
                clean(pl.when(one).then(pl.col("prefix")).otherwise(pl.col("_first"))),
            ).alias("client_address"),
            clean(pl.col("remote_user")).alias("user_id"),
            pl.col("_upstream").alias("upstream"),
            pl.col("_duration_ms").alias("duration_ms"),
            request_id.alias("request_id"),
            # one id kind: its list built directly (the general builder unpivots every kind)
            pl.when(request_id.is_not_null())
            .then(pl.concat_list(pl.struct(kind=pl.lit("x_request_id"), value=request_id)))
            .otherwise(pl.lit([], dtype=pl.List(ID_STRUCT)))
            .cast(pl.List(ID_STRUCT))
            .alias("ids"),
        )
        attrs = {
            "http_host": pl.when(~one & pl.col("_vhost")).then(pl.col("_host")),
            "remote_addr": pl.when((n_addresses > 1) | xff_tail.is_not_null()).then(
                pl.when(one).then(pl.col("prefix")).otherwise(pl.col("_last"))
            ),
            "address_chain": pl.when(~one).then(pl.col("_chain")),
            "x_forwarded_for": xff_tail,
            "query": query(target),
            "protocol": request.struct.field("protocol"),
            "request": pl.when(target.is_null()).then(pl.col("request")),
            "bytes_sent": pl.col("bytes"),
            "referer": pl.col("referer"),
            "user_agent": pl.col("user_agent"),
            "extra_1": pl.when(xff_tail.is_null()).then(pl.col("_extra_0")),
            "extra_2": pl.col("_extra_1"),
            "extra_3": pl.col("_extra_2"),
        }
        return events.with_columns(
            kv_column(
                frame,
                {k: v if k in _CLEAN else clean(v) for k, v in attrs.items()},
                [pl.col("_rest_pairs")],
            )
        )


def _on_rows(
    frame: pl.DataFrame, where: pl.Expr, columns: Callable[[pl.LazyFrame], pl.LazyFrame]
) -> pl.DataFrame:
    """``columns`` computed on the rows of ``frame`` where ``where`` holds, null elsewhere (one
    row per row of ``frame``): taken back by position, not joined."""
    mask = frame.select(where.fill_null(False).alias("_m")).get_column("_m")
    part = columns(frame.lazy().filter(mask)).collect()
    position = frame.select(
        pl.when(mask).then(mask.cast(pl.UInt32).cum_sum() - 1).alias("_i")
    ).get_column("_i")
    return part.select(pl.all().gather(position))


def _tail_columns(rows: pl.LazyFrame) -> pl.LazyFrame:
    """Columns read from the text after the user agent: key=value pairs, positional extras,
    the request id, the upstream and the time (null on a row without a tail, as they are)."""
    tail = pl.col("tail")
    pairs = pl.col("_pairs")
    extras = pl.col("_extras")
    extra = pl.col("_extra_0")
    return (
        rows.select(
            "tail",
            logfmt.pairs(tail, KEY_NAMES).alias("_pairs"),
            # the first three positional fields, unquoted and cleaned in one pass
            _extras(tail).list.head(3).list.eval(clean(unquote(pl.element()))).alias("_extras"),
        )
        .with_columns(
            *[extras.list.get(i, null_on_oob=True).alias(f"_extra_{i}") for i in range(3)],
        )
        .select(
            "_extra_0",
            "_extra_1",
            "_extra_2",
            # The `main` format appends "$http_x_forwarded_for": a quoted address list.
            pl.when(extra.str.contains(rf"^{IP_LIST_RE}$")).then(extra).alias("_xff"),
            pl.coalesce(
                _pair_value(pairs, "request_id"),
                tail.str.extract(rf'(?:^|\s)"?({_HEX32})"?(?:\s|$)', 1),
            ).alias("_request_id"),
            clean(_pair_value(pairs, "upstream_addr")).alias("_upstream"),
            (number(_pair_value(pairs, "request_time")) * 1000.0).alias("_duration_ms"),
            pairs.list.filter(
                ~pl.element().struct.field("key").is_in(list(_CANONICAL_KEYS))
                & pl.element().struct.field("value").is_not_null()
                & ~pl.element().struct.field("value").is_in(["-", ""])
            ).alias("_rest_pairs"),
        )
    )


def _prefix_columns(rows: pl.LazyFrame) -> pl.LazyFrame:
    """The addresses before " - ": an optional virtual host, then one address or a chain."""
    prefix = pl.col("prefix")
    tokens = pl.col("_tokens")
    first = tokens.list.first()
    # "vhost addr ..." : the first token is a host name, separated by a blank (not a comma).
    has_vhost = (
        (tokens.list.len() >= 2)
        & prefix.str.contains(r'^[^\s,"]+\s+[^\s,]')
        & ~first.str.contains(rf"^{IP_RE}$")
    )
    addresses = pl.col("_addresses")
    return (
        rows.select(prefix, prefix.str.extract_all(r'[^\s,"]+').alias("_tokens"))
        .select(
            has_vhost.alias("_vhost"),
            first.alias("_host"),
            pl.when(has_vhost).then(tokens.list.slice(1)).otherwise(tokens).alias("_addresses"),
        )
        .select(
            "_vhost",
            "_host",
            addresses.list.first().alias("_first"),
            addresses.list.last().alias("_last"),
            addresses.list.len().alias("_n"),
            pl.when(addresses.list.len() > 1).then(addresses.list.join(", ")).alias("_chain"),
        )
    )
