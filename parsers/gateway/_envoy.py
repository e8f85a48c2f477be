"""Mapping shared by the Envoy text and JSON parsers: Envoy's fields to canonical columns.

Both parsers first extract a frame of String columns named after Istio's default keys
(``start_time``, ``method``, ``path``, ``response_code``, ``response_flags`` ...), then call
:func:`envoy_events`. JSON key discovery (``key_names``, ``kept_keys``, ``key_paths``) lives in
:mod:`timeline.parserkit.jsonpaths`; it is re-exported here for the parsers that import it from
this module.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from timeline.parserkit.frame import http_status
from timeline.parserkit.http import first_hop, query, route
from timeline.parserkit.ids import id_list
from timeline.parserkit.jsonpaths import MAX_EXTRA_KEYS as MAX_EXTRA_KEYS
from timeline.parserkit.jsonpaths import kept_keys as kept_keys
from timeline.parserkit.jsonpaths import key_names as key_names
from timeline.parserkit.jsonpaths import key_paths as key_paths
from timeline.parserkit.kv import attributes
from timeline.parserkit.text import clean, integer, number
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


def envoy_events(timezone: str, *more: pl.Expr) -> list[pl.Expr]:
    """Canonical event columns from a frame of Envoy fields (plus ``source_line``); ``more``
    are further attribute lists appended to ``attributes``."""
    f = {name: clean(pl.col(name)) for name in FIELDS}
    parsed = parse_iso8601(f["start_time"], timezone)
    code = integer(f["response_code"])
    flags = f["response_flags"]
    is_tcp = f["method"].is_null() & f["protocol"].is_null() & (code.is_null() | (code == 0))
    denied = f["response_code_details"].str.contains(r"^(?:rbac_access_denied|ext_authz_denied)")
    status = pl.coalesce(
        _flag_status(flags.fill_null("")),
        pl.when(denied).then(pl.lit("blocked")),
        pl.when(code > 0).then(http_status(code)),
        pl.when(is_tcp).then(pl.lit("ok")),
    )
    request_id = f["request_id"]
    return [
        pl.col("source_line"),
        parsed.ts.alias("ts_source"),
        f["start_time"].alias("ts_raw"),
        parsed.assumed_tz.alias("ts_assumed_tz"),
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
        attributes(
            {
                "protocol": f["protocol"],
                "query": query(f["path"]),
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
                "connection": pl.when(is_tcp).then(pl.lit("tcp")),
            },
            *more,
        ).alias("attributes"),
    ]
