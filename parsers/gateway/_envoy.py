"""Mapping shared by the Envoy text and JSON parsers: Envoy's fields to canonical columns.

Both parsers first extract a frame of String columns named after Istio's default keys
(``start_time``, ``method``, ``path``, ``response_code``, ``response_flags`` ...), then call
:func:`start_times` (``start_time`` read once) and :func:`envoy_frame`. JSON key discovery (``key_names``, ``kept_keys``, ``key_paths``) lives in
:mod:`timeline.parserkit.jsonpaths`; it is re-exported here for the parsers that import it from
this module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

import polars as pl

from timeline.parserkit.frame import http_status
from timeline.parserkit.http import first_hop, query, route
from timeline.parserkit.ids import id_list
from timeline.parserkit.jsonpaths import MAX_EXTRA_KEYS as MAX_EXTRA_KEYS
from timeline.parserkit.jsonpaths import kept_keys as kept_keys
from timeline.parserkit.jsonpaths import key_names as key_names
from timeline.parserkit.jsonpaths import key_paths as key_paths
from timeline.parserkit.kv import kv_column
from timeline.parserkit.text import clean, integer, nullify, number
from timeline.parserkit.timestamps import parse_iso8601

# Istio's default access-log keys (JSON encoding), the names used for every Envoy field here.
FIELDS: Final = (
    "start_time",
    "method",
    "path",
    "protocol",
    "response_code",
    "response_flags",
    "response_code_details",
    "connection_termination_details",
    "upstream_transport_failure_reason",
    "bytes_received",
    "bytes_sent",
    "duration",
    "upstream_service_time",
    "x_forwarded_for",
    "user_agent",
    "request_id",
    "authority",
    "upstream_host",
    "upstream_cluster",
    "upstream_local_address",
    "downstream_local_address",
    "downstream_remote_address",
    "requested_server_name",
    "route_name",
)
# Response flags (short form) to the canonical status, in priority order.
_FLAG_STATUS: Final = (
    (("RL", "RLSE"), "rate_limited"),
    (("UAEX", "RBAC"), "blocked"),
    (("UT", "SI", "DT"), "timeout"),
    (("DC",), "cancelled"),
    (
        (
            "UF",
            "UH",
            "UO",
            "NR",
            "URX",
            "NC",
            "LR",
            "UR",
            "UC",
            "LH",
            "FI",
            "UMSDR",
            "DPE",
            "UPE",
            "OM",
            "DO",
            "NFCF",
            "IH",
            "SDS",
        ),
        "error",
    ),
)


def _flag_status(flags: pl.Expr) -> pl.Expr:
    expr: pl.Expr = pl.lit(None, dtype=pl.String)
    for names, status in reversed(_FLAG_STATUS):
        pattern = "(?:^|,)(?:" + "|".join(names) + ")(?:,|$)"
        expr = pl.when(flags.str.contains(pattern)).then(pl.lit(status)).otherwise(expr)
    return expr


def strip_port(address: pl.Expr) -> pl.Expr:
    """``10.0.0.1:5678`` -> ``10.0.0.1``; ``[2001:db8::1]:443`` -> ``2001:db8::1``."""
    return address.str.replace(r"^(\d{1,3}(?:\.\d{1,3}){3}):\d+$", "${1}").str.replace(
        r"^\[([0-9A-Fa-f:.]+)\]:\d+$", "${1}"
    )


# ``start_time`` as Envoy prints it (UTC, ``Z``): read with one strptime; other texts go the
# general ISO 8601 way (``parse_iso8601``), which reads these the same.
_ZULU_RE: Final = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?Z$"
_ZULU_FORMAT: Final = "%Y-%m-%dT%H:%M:%S%.fZ"


def start_times(text: pl.Series, timezone: str = "UTC") -> pl.DataFrame:
    """``parse_iso8601(text, timezone)`` as columns ``ts`` and ``assumed_tz``, plus ``ts_utc``
    (its ``ts`` under UTC, the rejection test), each computed once per row."""
    frame = text.alias("t").to_frame()
    zulu = frame.select(
        pl.when(pl.col("t").str.contains(_ZULU_RE))
        .then(
            pl.col("t").str.to_datetime(_ZULU_FORMAT, strict=False, time_unit="us", time_zone="UTC")
        )
        .alias("ts")
    ).get_column("ts")
    assumed = frame.select(
        pl.when(zulu.is_not_null()).then(False).otherwise(None).alias("assumed_tz")
    ).get_column("assumed_tz")
    left = zulu.is_null() & text.is_not_null()
    if left.any():
        rest = left.arg_true()
        parsed = parse_iso8601(pl.col("t"), "UTC")
        other = frame.filter(left).select(
            parsed.ts.alias("ts"), parsed.assumed_tz.alias("assumed_tz")
        )
        zulu = zulu.scatter(rest, other.get_column("ts"))
        assumed = assumed.scatter(rest, other.get_column("assumed_tz"))
    utc = pl.DataFrame([zulu.alias("ts_utc"), assumed.alias("_utc_assumed")])
    if timezone == "UTC":
        return utc.select(
            pl.col("ts_utc").alias("ts"), pl.col("_utc_assumed").alias("assumed_tz"), "ts_utc"
        )
    local = (
        pl.col("ts_utc")
        .dt.replace_time_zone(None)
        .dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null")
        .dt.convert_time_zone("UTC")
    )
    ts = (
        pl.when(~pl.col("_utc_assumed"))
        .then(pl.col("ts_utc"))
        .when(pl.col("_utc_assumed"))
        .then(local)
    )
    return utc.with_columns(ts.alias("ts")).select(
        "ts",
        pl.when(~pl.col("_utc_assumed"))
        .then(False)
        .when(pl.col("ts").is_not_null())
        .then(True)
        .alias("assumed_tz"),
        "ts_utc",
    )


def envoy_frame(
    frame: pl.DataFrame,
    times: pl.DataFrame,
    more: Mapping[str, pl.Expr] | None = None,
    extra: Sequence[pl.Expr] = (),
) -> pl.DataFrame:
    """Canonical event columns from a frame of Envoy fields (plus ``source_line``).

    ``times`` is :func:`start_times` of the frame's ``start_time`` (row for row); ``more`` are
    further attributes (key to value, taken as they are) after Envoy's own; ``extra`` further
    columns of the result, computed on ``frame``. Each value is computed once: the fields are
    cleaned into columns first, the status and attributes then read those columns."""
    f = {name: pl.col(f"_e.{name}") for name in FIELDS}
    # clean() in two steps: it would strip each value twice (no common subexpressions here)
    cleaned = (
        frame.with_columns(
            *[pl.col(name).str.strip_chars().alias(f"_e.{name}") for name in FIELDS],
            times.get_column("ts").alias("_e.ts"),
            times.get_column("assumed_tz").alias("_e.assumed_tz"),
        )
        .with_columns(nullify(col).alias(col.meta.output_name()) for col in f.values())
        .with_columns(integer(f["response_code"]).alias("_e.code"))
    )
    code = pl.col("_e.code")
    is_tcp = f["method"].is_null() & f["protocol"].is_null() & (code.is_null() | (code == 0))
    denied = f["response_code_details"].str.contains(r"^(?:rbac_access_denied|ext_authz_denied)")
    flags = f["response_flags"]
    staged = cleaned.with_columns(
        pl.coalesce(
            _flag_status(flags.fill_null("")),
            pl.when(denied).then(pl.lit("blocked")),
            pl.when(code > 0).then(http_status(code)),
            pl.when(is_tcp).then(pl.lit("ok")),
        ).alias("_e.status"),
        is_tcp.alias("_e.tcp"),
    )
    status = pl.col("_e.status")
    pairs: dict[str, pl.Expr] = {
        "protocol": f["protocol"],
        "query": clean(query(f["path"])),
        "authority": f["authority"],
        "user_agent": f["user_agent"],
        "x_forwarded_for": f["x_forwarded_for"],
        "bytes_received": f["bytes_received"],
        "bytes_sent": f["bytes_sent"],
        "upstream_service_time": f["upstream_service_time"],
        "response_flags": flags,
        "response_code_details": f["response_code_details"],
        "connection_termination_details": f["connection_termination_details"],
        "upstream_transport_failure_reason": f["upstream_transport_failure_reason"],
        "upstream_cluster": f["upstream_cluster"],
        "upstream_local_address": f["upstream_local_address"],
        "downstream_local_address": f["downstream_local_address"],
        "downstream_remote_address": f["downstream_remote_address"],
        "requested_server_name": f["requested_server_name"],
        "route_name": f["route_name"],
        "connection": pl.when(pl.col("_e.tcp")).then(pl.lit("tcp")),
        **(more or {}),
    }
    request_id = f["request_id"]
    return staged.select(
        pl.col("source_line"),
        pl.col("_e.ts").alias("ts_source"),
        f["start_time"].alias("ts_raw"),
        pl.col("_e.assumed_tz").alias("ts_assumed_tz"),
        pl.lit("http.request").alias("event_type"),  # START_TIME: the request began at ts
        code.alias("status_code"),
        status.alias("status"),
        pl.when(status != "ok")
        .then(pl.coalesce(flags, f["response_code_details"]))
        .alias("error_type"),
        f["method"].alias("http_method"),
        route(f["path"]).alias("http_route"),
        pl.coalesce(
            first_hop(f["x_forwarded_for"]), strip_port(f["downstream_remote_address"])
        ).alias("client_address"),
        pl.coalesce(f["upstream_host"], f["upstream_cluster"]).alias("upstream"),
        number(f["duration"]).alias("duration_ms"),
        request_id.alias("request_id"),
        id_list({"x_request_id": request_id}).alias("ids"),
        kv_column(staged, pairs).alias("attributes"),
        *extra,
    )
