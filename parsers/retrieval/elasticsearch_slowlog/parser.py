"""Elasticsearch / OpenSearch search (and indexing) slow logs: JSON layouts 7.x, 8.x, ECS, and text.

Layouts, all one record per line:

* 7.0 JSON: ``{"type": "index_search_slowlog", "timestamp": "2019-01-29T08:31:40,426+0100", ...,
  "message": "[idx][0] took[70.4micros], took_millis[0], total_hits[0 hits], ..., id[], "}``;
* 7.1+ / 8.0 / OpenSearch JSON: the same header, ``message`` is ``[idx][0]`` and ``took``,
  ``took_millis``, ``total_hits``, ``source`` (an object, or a string holding escaped JSON),
  ``id`` are their own fields; 8.0 uses ``@timestamp`` and ``log.level``;
* 8.x ECS (``elasticsearch.slowlog.*`` fields, ``elasticsearch.slowlog.id`` may be JSON null);
* text (``log4j`` pattern ``[%d{ISO8601}][%-5p][%c{1.}] [%node_name] %m``), Elasticsearch up to
  6.x and OpenSearch's ``*_index_search_slowlog.log``.

The query source is kept as text in ``attributes["query_source"]``; it is never run.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from timeline.parserkit.api import ParseResult, Sample, Source
from timeline.parserkit.durations import es_took_ms
from timeline.parserkit.frame import first_reason, severity
from timeline.parserkit.ids import id_list
from timeline.parserkit.jsonpaths import decode_paths, jp, key_path
from timeline.parserkit.kv import kv_list
from timeline.parserkit.text import nullify, unescape
from timeline.parserkit.timestamps import parse_iso8601

_TEXT: Final = (
    r"^\[(?P<ts>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[,.]\d+)?(?:Z|[+-]\d{2}:?\d{2})?)\]"
    r"\s*\[(?P<level>[A-Za-z]+)\s*\]\s*\[(?P<logger>[^\]]+?)\s*\]\s*\[(?P<node>[^\]]*)\]\s?(?P<msg>.*)$"
)
_SEARCH_SHARD: Final = r"^\[(?P<index>[^\]/]*)\]\[(?P<shard>\d+)\]"
_INDEX_UUID: Final = r"^\[(?P<index>[^\]/]*)/(?P<uuid>[^\]]*)\]"
_SOURCE_IN_MESSAGE: Final = (
    r"source\[(.*?)\](?:, extra_source\[[^\]]*\])?(?:, id\[[^\]]*\])?,?\s*(?:\|[\s|]*)?$"
)
_OPAQUE_ID_IN_MESSAGE: Final = r", id\[([^\]]*)\],?\s*$"


# Every top-level key read below; decoded once per chunk (timeline.parserkit.jsonpaths).
_KEYS: Final = (
    "@timestamp",
    "auth.type",
    "cluster.name",
    "cluster.uuid",
    "component",
    "ecs.version",
    "elasticsearch.cluster.name",
    "elasticsearch.cluster.uuid",
    "elasticsearch.node.id",
    "elasticsearch.node.name",
    "elasticsearch.slowlog.id",
    "elasticsearch.slowlog.message",
    "elasticsearch.slowlog.search_type",
    "elasticsearch.slowlog.source",
    "elasticsearch.slowlog.stats",
    "elasticsearch.slowlog.took",
    "elasticsearch.slowlog.took_millis",
    "elasticsearch.slowlog.total_hits",
    "elasticsearch.slowlog.total_shards",
    "event.dataset",
    "id",
    "level",
    "log.level",
    "log.logger",
    "message",
    "node.id",
    "node.name",
    "search_type",
    "source",
    "stats",
    "timestamp",
    "took",
    "took_millis",
    "total_hits",
    "total_shards",
    "type",
    "user.name",
    "user.realm",
)


def _j(key: str) -> pl.Expr:
    """A top-level JSON field (dotted names are literal keys) as text."""
    if key not in _KEYS:
        raise KeyError(f"add {key!r} to _KEYS")
    return nullify(jp(key_path(key)), ("",))


def _m(name: str) -> pl.Expr:
    """``name[value]`` from the message text."""
    return pl.col("_msg").str.extract(rf"(?:^|[\s,\]]){name}\[([^\]]*)\]", 1)


def _first(*exprs: pl.Expr) -> pl.Expr:
    return pl.coalesce(list(exprs))


class ElasticsearchSlowlogParser:
    """Search slow logs of Elasticsearch 6-8 and OpenSearch, JSON and text."""

    name = "elasticsearch_slowlog"
    layer = "retrieval"
    description = "Elasticsearch / OpenSearch search slow log (7.x and 8.x JSON, ECS, plain text)"

    def sniff(self, sample: Sample) -> float:
        """Fraction of sample lines that are slow-log records with a time and a duration."""
        if not sample.lines:
            return 0.0
        frame = self._fields(sample.frame(), "UTC")
        ok = frame.select(
            (
                pl.col("ts_source").is_not_null()
                & pl.col("_took_ms").is_not_null()
                & pl.col("_kind").is_not_null()
            ).mean()
        ).item()
        return float(ok or 0.0)

    def parse(self, source: Source) -> ParseResult:
        """Parse one chunk of slow-log lines."""
        frame = self._fields(source.lines, source.settings.timezone)
        reason = first_reason(
            [
                (pl.col("_kind").is_null(), "not an Elasticsearch slow log line"),
                (pl.col("ts_raw").is_null(), "slow log line without a timestamp"),
                (pl.col("ts_source").is_null(), "slow log timestamp does not parse"),
                (pl.col("_took_ms").is_null(), "slow log line without took"),
            ]
        )
        frame = frame.with_columns(reason.alias("_reason"))
        good = frame.filter(pl.col("_reason").is_null())
        bad = frame.filter(pl.col("_reason").is_not_null())
        return ParseResult(
            events=good.select(self._event_columns()),
            rejects=bad.select("source_line", pl.col("_reason").alias("reason")),
        )

    # -- extraction ----------------------------------------------------------------------------
    def _fields(self, lines: pl.DataFrame, timezone: str) -> pl.DataFrame:
        stripped = lines.with_columns(pl.col("line").str.strip_chars().alias("line"))
        decoded = decode_paths(stripped.get_column("line"), [key_path(k) for k in _KEYS])
        text = pl.concat([stripped, decoded], how="horizontal").with_columns(
            pl.col("line").str.starts_with("{").alias("_json"),
            pl.col("line").str.extract_groups(_TEXT).alias("_t"),
        )
        t = pl.col("_t").struct
        json = pl.col("_json")
        message = _first(_j("message"), _j("elasticsearch.slowlog.message"))
        frame = text.with_columns(
            pl.when(json)
            .then(_first(_j("@timestamp"), _j("timestamp")))
            .otherwise(t.field("ts"))
            .alias("ts_raw"),
            pl.when(json)
            .then(_first(_j("log.level"), _j("level")))
            .otherwise(t.field("level"))
            .alias("_level"),
            pl.when(json)
            .then(
                _first(
                    _j("log.logger"),
                    _j("component"),
                    _j("type"),
                    _j("event.dataset"),
                )
            )
            .otherwise(t.field("logger"))
            .alias("_logger"),
            pl.when(json)
            .then(_first(_j("type"), _j("event.dataset")))
            .otherwise(None)
            .alias("_type"),
            pl.when(json).then(message).otherwise(t.field("msg")).alias("_msg"),
            pl.when(json)
            .then(_first(_j("node.name"), _j("elasticsearch.node.name")))
            .otherwise(nullify(t.field("node")))
            .alias("_node"),
            pl.when(json)
            .then(
                pl.when(
                    _j("ecs.version").is_not_null() | _j("elasticsearch.slowlog.took").is_not_null()
                )
                .then(pl.lit("ecs_json"))
                .when(_j("@timestamp").is_not_null())
                .then(pl.lit("es8_json"))
                .otherwise(pl.lit("es7_json"))
            )
            .when(t.field("ts").is_not_null())
            .then(pl.lit("text"))
            .alias("_layout"),
        )
        kind_text = pl.concat_str(
            [pl.col("_logger").fill_null(""), pl.col("_type").fill_null("")], separator=" "
        ).str.to_lowercase()
        frame = frame.with_columns(
            pl.when(kind_text.str.contains(r"index_indexing|indexing\.slowlog|i\.i\.s\."))
            .then(pl.lit("indexing"))
            .when(kind_text.str.contains(r"index_search|search\.slowlog|i\.s\.s\."))
            .then(pl.lit("search"))
            .alias("_kind"),
            pl.when(kind_text.str.contains(r"fetch"))
            .then(pl.lit("fetch"))
            .when(kind_text.str.contains(r"query"))
            .then(pl.lit("query"))
            .alias("_phase"),
        )
        took = _first(_j("took"), _j("elasticsearch.slowlog.took"), _m("took"))
        took_millis = _first(
            _j("took_millis"), _j("elasticsearch.slowlog.took_millis"), _m("took_millis")
        )
        source_text = _first(
            _j("source"),
            _j("elasticsearch.slowlog.source"),
            pl.col("_msg").str.extract(_SOURCE_IN_MESSAGE, 1),
        )
        opaque = _first(
            nullify(_j("id")),
            nullify(_j("elasticsearch.slowlog.id")),
            nullify(pl.col("_msg").str.extract(_OPAQUE_ID_IN_MESSAGE, 1)),
        )
        hits = _first(
            _j("total_hits"), _j("elasticsearch.slowlog.total_hits"), _m("total_hits")
        ).str.extract_groups(r"^\s*(?P<n>-?\d+)(?P<gte>\+)?")
        search = pl.col("_kind") == "search"
        parsed = parse_iso8601(pl.col("ts_raw"), timezone)
        return frame.with_columns(
            parsed.ts.alias("ts_source"),
            parsed.assumed_tz.alias("ts_assumed_tz"),
            took.alias("_took"),
            took_millis.alias("_took_millis"),
            pl.coalesce(es_took_ms(took), took_millis.cast(pl.Float64, strict=False)).alias(
                "_took_ms"
            ),
            pl.when(source_text.str.contains(r'^\{\\"'))
            .then(unescape(source_text, '"/'))
            .otherwise(source_text)
            .alias("_source"),
            pl.when(search).then(opaque).alias("_opaque"),
            pl.when(~search).then(_m("id")).alias("_doc_id"),
            hits.struct.field("n").alias("_hits"),
            pl.when(hits.struct.field("gte").is_not_null()).then(pl.lit("gte")).alias("_hits_rel"),
            pl.col("_msg").str.extract_groups(_SEARCH_SHARD).alias("_shard"),
            pl.col("_msg").str.extract_groups(_INDEX_UUID).alias("_iuuid"),
            _first(
                _j("search_type"), _j("elasticsearch.slowlog.search_type"), _m("search_type")
            ).alias("_search_type"),
            _first(
                _j("total_shards"), _j("elasticsearch.slowlog.total_shards"), _m("total_shards")
            ).alias("_total_shards"),
            _first(_j("stats"), _j("elasticsearch.slowlog.stats"), _m("stats")).alias("_stats"),
        )

    def _event_columns(self) -> list[pl.Expr]:
        search = pl.col("_kind") == "search"
        index = pl.coalesce(
            pl.col("_shard").struct.field("index"), pl.col("_iuuid").struct.field("index")
        )
        top_k = (
            pl.col("_source")
            .str.extract(r'^\{\s*"size"\s*:\s*(\d+)', 1)
            .cast(pl.Int64, strict=False)
        )
        stats = nullify(pl.col("_stats"), ("", "[]", "-"))
        return [
            pl.col("source_line"),
            pl.col("ts_source"),
            pl.col("ts_raw"),
            pl.col("ts_assumed_tz"),
            pl.lit(True).alias("ts_at_end"),  # the slow log is written when the phase completes
            pl.lit("retrieval").alias("layer"),
            pl.when(search)
            .then(pl.lit("retrieval.query"))
            .otherwise(pl.lit("server.log"))
            .alias("event_type"),
            severity(pl.col("_level")).alias("severity"),
            pl.lit("ok").alias("status"),
            pl.col("_msg").str.strip_chars_end(", ").alias("message"),
            pl.col("_opaque").alias("request_id"),
            id_list({"x_opaque_id": pl.col("_opaque")}).alias("ids"),
            pl.col("_node").alias("host"),
            nullify(_j("user.name")).alias("user_id"),
            pl.col("_took_ms").round(6).alias("duration_ms"),
            index.alias("index_name"),
            pl.when(search).then(top_k).alias("top_k"),
            kv_list(
                {
                    "slowlog_layout": pl.col("_layout"),
                    "slowlog_kind": pl.col("_kind"),
                    "phase": pl.col("_phase"),
                    "logger": pl.col("_logger"),
                    "shard": pl.col("_shard").struct.field("shard"),
                    "index_uuid": pl.col("_iuuid").struct.field("uuid"),
                    "took": pl.col("_took"),
                    "took_millis": pl.col("_took_millis"),
                    "total_hits": pl.col("_hits"),
                    "total_hits_relation": pl.col("_hits_rel"),
                    "search_type": pl.col("_search_type"),
                    "total_shards": pl.col("_total_shards"),
                    "stats": stats,
                    "query_source": pl.when(search).then(nullify(pl.col("_source"), ("",))),
                    "doc_id": pl.coalesce(
                        nullify(pl.col("_doc_id")),
                        pl.when(~search).then(nullify(_j("elasticsearch.slowlog.id"))),
                    ),
                    "cluster_name": _first(_j("cluster.name"), _j("elasticsearch.cluster.name")),
                    "cluster_uuid": _first(_j("cluster.uuid"), _j("elasticsearch.cluster.uuid")),
                    "node_id": _first(_j("node.id"), _j("elasticsearch.node.id")),
                    "auth_type": _j("auth.type"),
                    "user_realm": _j("user.realm"),
                }
            ).alias("attributes"),
        ]
