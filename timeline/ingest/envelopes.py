"""Log-platform envelopes: the same inner line arrives wrapped by Docker, Kubernetes, CloudWatch ...

An envelope is unwrapped before detection and parsing; the parser sees the inner line. The envelope's
time and labels are kept: ``host`` (pod, container, stream) and ``attributes`` prefixed ``envelope.``;
its time fills ``ts_source`` when the inner line has none. Line numbers stay those of the file.

Kinds, each recognised per line (so files that mix wrapped and plain lines work):

* ``docker_json``: docker json-file ``{"log": "...\\n", "stream": "stdout", "time": "..."}``, and the
  fluentd / fluent-bit form with ``message`` and a ``kubernetes`` object; partial entries (no
  trailing newline) are joined with the entries that complete them;
* ``cri``: Kubernetes CRI ``<rfc3339> stdout F <msg>``, ``P`` partial lines joined;
* ``loki``: ``logcli --output=jsonl`` ``{"labels": {...}, "line": "...", "timestamp": "..."}``;
* ``gcp_logging``: Cloud Logging entries with ``textPayload`` / ``jsonPayload``, ``trace``, ``httpRequest``;
* ``cloudwatch``: CloudWatch Logs events ``{"timestamp": ms, "message": "...", "logStreamName": ...}``;
* ``elasticsearch_hit``: ``_search`` / elasticdump NDJSON hits ``{"_index", "_source": {...}}``;

and, when most lines of a file carry them (a prefix alone is too weak a signal for one line):

* ``compose``: docker-compose prefixes ``name  | <msg>``;
* ``syslog``: journald / syslog short prefixes ``Mar  2 10:15:04 host tag[pid]: <msg>``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import polars as pl

from timeline.parserkit.api import Sample
from timeline.parserkit.frame import id_list, kv_list
from timeline.parserkit.timestamps import parse_epoch, parse_iso8601
from timeline.schema import ID_STRUCT, KV_STRUCT

LINE_PREFIX_SHARE: Final = 0.8
MAX_DEPTH: Final = 3

_CRI = r"^(?P<time>\d{4}-\d{2}-\d{2}T\S+) (?P<stream>stdout|stderr) (?P<tag>[FP]) ?(?P<msg>.*)$"
_COMPOSE = r"^(?P<service>[A-Za-z0-9][\w.-]*?)\s+\| (?P<msg>.*)$"
_SYSLOG = (
    r"^(?P<time>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d) (?P<host>[\w.:-]+) (?P<tag>[\w./@-]+?)"
    r"(?:\[(?P<pid>\d+)\])?: (?P<msg>.*)$"
)

ENV_SCHEMA: Final = pl.Schema(
    {
        "source_line": pl.Int64(),
        "env_ts": pl.Datetime("us", "UTC"),
        "env_host": pl.String(),
        "env_attrs": pl.List(KV_STRUCT),
        "env_ids": pl.List(ID_STRUCT),
    }
)


@dataclass(frozen=True)
class Unwrapped:
    """Inner lines, the envelope facts per wrapped line, and joined partial lines."""

    lines: pl.DataFrame  # source_line, line
    envelope: pl.DataFrame  # ENV_SCHEMA, one row per unwrapped record
    merged: (
        pl.DataFrame
    )  # source_line (a physical line joined into a record), into (the record's line)
    kinds: tuple[str, ...]


def _j(path: str) -> pl.Expr:
    return pl.col("line").str.json_path_match(path)


def _is_object() -> pl.Expr:
    return pl.col("line").str.starts_with("{")


@dataclass(frozen=True)
class _Kind:
    name: str
    per_line: bool
    match: Callable[[], pl.Expr]
    inner: Callable[[], pl.Expr]
    ts: Callable[[], pl.Expr]
    host: Callable[[], pl.Expr]
    attrs: Callable[[], dict[str, pl.Expr]]
    ids: Callable[[], dict[str, pl.Expr]] = dict
    partial: Callable[[], pl.Expr] | None = None


def _iso(expr: pl.Expr) -> pl.Expr:
    return parse_iso8601(expr).ts


def _g(pattern: str, name: str) -> pl.Expr:
    return pl.col("line").str.extract_groups(pattern).struct.field(name)


_DOCKER_TEXT = pl.coalesce(_j("$.log"), _j("$.message"))

KINDS: Final[tuple[_Kind, ...]] = (
    _Kind(
        "docker_json",
        True,
        lambda: (
            _is_object() & _j("$.stream").is_in(["stdout", "stderr"]) & _DOCKER_TEXT.is_not_null()
        ),
        lambda: _DOCKER_TEXT.str.strip_suffix("\n").str.strip_suffix("\r"),
        lambda: _iso(_j("$.time")),
        lambda: pl.coalesce(
            _j("$.kubernetes.pod_name"), _j("$.kubernetes.host"), _j("$.container_name")
        ),
        lambda: {
            "envelope.kind": pl.lit("docker_json"),
            "envelope.stream": _j("$.stream"),
            "envelope.time": _j("$.time"),
            "envelope.namespace": _j("$.kubernetes.namespace_name"),
            "envelope.container": pl.coalesce(
                _j("$.kubernetes.container_name"), _j("$.container_name")
            ),
        },
        partial=lambda: _j("$.log").is_not_null() & ~_j("$.log").str.ends_with("\n"),
    ),
    _Kind(
        "cri",
        True,
        lambda: pl.col("line").str.contains(_CRI),
        lambda: _g(_CRI, "msg"),
        lambda: _iso(_g(_CRI, "time")),
        lambda: pl.lit(None, dtype=pl.String),
        lambda: {
            "envelope.kind": pl.lit("cri"),
            "envelope.stream": _g(_CRI, "stream"),
            "envelope.time": _g(_CRI, "time"),
        },
        partial=lambda: _g(_CRI, "tag") == "P",
    ),
    _Kind(
        "loki",
        True,
        lambda: _is_object() & _j("$.line").is_not_null() & _j("$.labels").str.starts_with("{"),
        lambda: _j("$.line"),
        lambda: _iso(_j("$.timestamp")),
        lambda: pl.coalesce(
            _j("$.labels.pod"),
            _j("$.labels.host"),
            _j("$.labels.instance"),
            _j("$.labels.container"),
        ),
        lambda: {
            "envelope.kind": pl.lit("loki"),
            "envelope.time": _j("$.timestamp"),
            "envelope.labels": _j("$.labels"),
        },
    ),
    _Kind(
        "gcp_logging",
        True,
        lambda: (
            _is_object()
            & _j("$.logName").is_not_null()
            & (_j("$.textPayload").is_not_null() | _j("$.jsonPayload").is_not_null())
        ),
        lambda: pl.coalesce(_j("$.textPayload"), _j("$.jsonPayload.message"), _j("$.jsonPayload")),
        lambda: _iso(pl.coalesce(_j("$.timestamp"), _j("$.receiveTimestamp"))),
        lambda: pl.coalesce(_j("$.resource.labels.pod_name"), _j("$.resource.labels.instance_id")),
        lambda: {
            "envelope.kind": pl.lit("gcp_logging"),
            "envelope.time": _j("$.timestamp"),
            "envelope.log_name": _j("$.logName"),
            "envelope.severity": _j("$.severity"),
            "envelope.resource_type": _j("$.resource.type"),
            "envelope.http_request": _j("$.httpRequest"),
            "envelope.labels": _j("$.labels"),
        },
        lambda: {"gcp_trace": _j("$.trace"), "gcp_span_id": _j("$.spanId")},
    ),
    _Kind(
        "cloudwatch",
        True,
        lambda: (
            _is_object()
            & _j("$.message").is_not_null()
            & (_j("$.logStreamName").is_not_null() | _j("$.ingestionTime").is_not_null())
        ),
        lambda: _j("$.message").str.strip_suffix("\n"),
        lambda: parse_epoch(_j("$.timestamp"), "epoch_ms").ts,
        lambda: _j("$.logStreamName"),
        lambda: {
            "envelope.kind": pl.lit("cloudwatch"),
            "envelope.time": _j("$.timestamp"),
            "envelope.log_stream": _j("$.logStreamName"),
            "envelope.event_id": _j("$.eventId"),
        },
    ),
    _Kind(
        "elasticsearch_hit",
        True,
        lambda: _is_object() & _j("$._index").is_not_null() & _j("$._source").str.starts_with("{"),
        lambda: pl.coalesce(_j("$._source.message"), _j("$._source")),
        lambda: _iso(_j("$._source['@timestamp']")),
        lambda: pl.coalesce(_j("$._source.host.name"), _j("$._source.host.hostname")),
        lambda: {
            "envelope.kind": pl.lit("elasticsearch_hit"),
            "envelope.index": _j("$._index"),
            "envelope.id": _j("$._id"),
            "envelope.time": _j("$._source['@timestamp']"),
        },
    ),
    _Kind(
        "compose",
        False,
        lambda: pl.col("line").str.contains(_COMPOSE),
        lambda: _g(_COMPOSE, "msg"),
        lambda: pl.lit(None, dtype=pl.Datetime("us", "UTC")),
        lambda: _g(_COMPOSE, "service"),
        lambda: {"envelope.kind": pl.lit("compose"), "envelope.service": _g(_COMPOSE, "service")},
    ),
    _Kind(
        "syslog",
        False,
        lambda: pl.col("line").str.contains(_SYSLOG),
        lambda: _g(_SYSLOG, "msg"),
        lambda: pl.lit(None, dtype=pl.Datetime("us", "UTC")),
        lambda: _g(_SYSLOG, "host"),
        lambda: {
            "envelope.kind": pl.lit("syslog"),
            "envelope.time": _g(_SYSLOG, "time"),
            "envelope.tag": _g(_SYSLOG, "tag"),
            "envelope.pid": _g(_SYSLOG, "pid"),
        },
    ),
)
_BY_NAME: Final = {k.name: k for k in KINDS}


def detect_kinds(lines: pl.DataFrame) -> tuple[str, ...]:
    """Envelope kinds present in ``lines`` (a sample): per-line kinds if any line has them,
    prefix kinds if most lines do. At most one kind of each family is chosen."""
    if lines.height == 0:
        return ()
    shares = lines.select([k.match().fill_null(False).mean().alias(k.name) for k in KINDS]).row(
        0, named=True
    )
    found = [k.name for k in KINDS if k.per_line and (shares[k.name] or 0) > 0]
    if not found:
        prefix = [k for k in KINDS if not k.per_line and (shares[k.name] or 0) >= LINE_PREFIX_SHARE]
        found = [prefix[0].name] if prefix else []
    return tuple(found)


def inner_sample(sample: Sample) -> tuple[Sample, tuple[str, ...]]:
    """The sample as the parser will see it (envelopes removed), and the envelope kinds found."""
    kinds = detect_kinds(sample.frame())
    if not kinds:
        return sample, ()
    inner = unwrap(sample.frame(), kinds).lines.get_column("line").to_list()
    return Sample(sample.name, tuple(line for line in inner if line.strip())), kinds


def _empty(lines: pl.DataFrame) -> Unwrapped:
    return Unwrapped(
        lines,
        pl.DataFrame(schema=ENV_SCHEMA),
        pl.DataFrame(schema={"source_line": pl.Int64, "into": pl.Int64}),
        (),
    )


def _apply(lines: pl.DataFrame, kind: _Kind) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    partial = kind.partial() if kind.partial is not None else pl.lit(False)
    frame = lines.with_columns(
        kind.match().fill_null(False).alias("_m"),
    ).with_columns(
        pl.when("_m").then(kind.inner()).alias("_inner"),
        pl.when("_m").then(kind.ts()).alias("env_ts"),
        pl.when("_m").then(kind.host()).alias("env_host"),
        pl.when("_m").then(kv_list(kind.attrs())).alias("env_attrs"),
        pl.when("_m").then(id_list(kind.ids())).alias("env_ids"),
        pl.when("_m").then(partial).otherwise(False).fill_null(False).alias("_partial"),
    )
    if not frame.get_column("_partial").any():
        return (
            frame.select(
                "source_line", pl.coalesce(pl.col("_inner"), pl.col("line")).alias("line")
            ),
            frame.filter(pl.col("_m")).select(ENV_SCHEMA.names()),
            pl.DataFrame(schema={"source_line": pl.Int64, "into": pl.Int64}),
        )
    # A record starts at every line whose predecessor is not a partial line of this envelope.
    starts = ~pl.col("_partial").shift(1).fill_null(False) | ~pl.col("_m")
    frame = frame.with_columns(starts.cum_sum().alias("_rec"))
    head = frame.group_by("_rec", maintain_order=True).agg(
        pl.col("source_line").first(),
        pl.col("line").first(),
        pl.col("_m").first(),
        pl.when(pl.col("_m").first()).then(pl.col("_inner").str.join("")).alias("_inner"),
        pl.col("env_ts").first(),
        pl.col("env_host").first(),
        pl.col("env_attrs").first(),
        pl.col("env_ids").first(),
        pl.col("source_line").slice(1).alias("_merged"),
    )
    merged = (
        head.select(pl.col("_merged").alias("source_line"), pl.col("source_line").alias("into"))
        .explode("source_line")
        .drop_nulls("source_line")
    )
    new_lines = head.select(
        "source_line", pl.coalesce(pl.col("_inner"), pl.col("line")).alias("line")
    )
    envelope = head.filter(pl.col("_m")).select(ENV_SCHEMA.names())
    return new_lines, envelope, merged


def unwrap(lines: pl.DataFrame, kinds: tuple[str, ...] | None = None) -> Unwrapped:
    """Unwrap ``lines`` (``source_line``, ``line``); ``kinds`` from :func:`detect_kinds` on a sample,
    or detected on ``lines`` itself when None. Nested envelopes are unwrapped up to three deep."""
    if kinds is None:
        kinds = detect_kinds(lines)
    if not kinds:
        return _empty(lines)
    envelopes: list[pl.DataFrame] = []
    merged: list[pl.DataFrame] = []
    current = lines
    applied: list[str] = []
    depth = 0
    todo = list(kinds)
    while todo and depth < MAX_DEPTH:
        for name in todo:
            current, env, mer = _apply(current, _BY_NAME[name])
            envelopes.append(env)
            merged.append(mer)
            applied.append(name)
        depth += 1
        todo = [k for k in detect_kinds(current.head(64)) if k not in applied]
    envelope = _combine(envelopes)
    all_merged = (
        pl.concat(merged)
        if merged
        else pl.DataFrame(schema={"source_line": pl.Int64, "into": pl.Int64})
    )
    return Unwrapped(current, envelope, _resolve_into(all_merged), tuple(applied))


def _combine(envelopes: list[pl.DataFrame]) -> pl.DataFrame:
    """One row per record: the outermost time and host win, attributes and ids accumulate."""
    if not envelopes:
        return pl.DataFrame(schema=ENV_SCHEMA)
    stacked = pl.concat(envelopes)
    return (
        stacked.group_by("source_line", maintain_order=True)
        .agg(
            pl.col("env_ts").drop_nulls().first(),
            pl.col("env_host").drop_nulls().first(),
            pl.col("env_attrs").explode().drop_nulls(),
            pl.col("env_ids").explode().drop_nulls(),
        )
        .with_columns(
            pl.col("env_attrs").list.drop_nulls(),
            pl.col("env_ids").list.drop_nulls(),
        )
        .select(ENV_SCHEMA.names())
        .cast(ENV_SCHEMA)
    )


def _resolve_into(merged: pl.DataFrame) -> pl.DataFrame:
    """Point every merged line at its final record line (joins may chain across nesting levels)."""
    if merged.height == 0:
        return merged
    mapping = dict(zip(merged["source_line"].to_list(), merged["into"].to_list(), strict=True))
    resolved = []
    for line, into in mapping.items():
        while into in mapping:
            into = mapping[into]
        resolved.append((line, into))
    return pl.DataFrame(resolved, schema={"source_line": pl.Int64, "into": pl.Int64}, orient="row")
