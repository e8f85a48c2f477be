"""Log-platform envelopes: the same inner line arrives wrapped by Docker, Kubernetes, CloudWatch ...

An envelope is unwrapped before detection and parsing; the parser sees the inner line. The envelope's
time and labels are kept: ``host`` (pod, container, stream) and ``attributes`` prefixed ``envelope.``;
its time fills ``ts_source`` when the inner line has none. Line numbers stay those of the file.

Kinds, each recognised per line (so files that mix wrapped and plain lines work; a line without
the envelope passes through unchanged). First the text prefixes that tools put before each line,
outermost first (``grep -r`` over ``kubectl`` output over ...):

* ``grep_prefix``: ``grep -r`` / ``grep -H`` file names ``logs/access.log:<msg>``, and
  ``path:LINENO:<msg>`` with ``-n``. The name must look like a path: only ``[\\w.@%+~/-]``
  characters (no spaces, quotes or braces), and it contains ``/`` or ends in a log-ish extension
  (``.log .txt .out .err .json .jsonl .ndjson``, rotated ``.log.1`` / ``.log-20250302``, ``.gz``);
  it must not end in a source-code extension (``.py:52:`` is a Python warning, ``.go:12`` a Go
  call site) nor be a date (``02/Mar/2025:10:15:04``); what follows the ``:`` must not start with
  ``//`` (a URL). ``path:DIGITS:`` is always read as a line number. The sample must hold two
  lines with the same path, or be mostly prefixed (a one-hit-per-file ``grep -r``);
* ``kubectl_prefix``: ``kubectl logs --prefix`` ``[pod/NAME/CONTAINER] <msg>`` (the pod is the host);
* ``compose``: docker compose ``SERVICE  | <msg>``: the name left-aligned and padded to the longest
  name plus one, then `` | `` (ANSI colours around the prefix allowed). The sample must hold two
  lines with the `` | `` at the same column, or be mostly prefixed, so that a stray table row is
  not taken for one (the column may change later in the file: compose widens it when a service
  with a longer name joins);
* ``docker_timestamps``: ``docker logs --timestamps`` / ``kubectl logs --timestamps`` / ``docker
  compose logs -t``: an RFC3339Nano time with exactly nine fraction digits (Go's
  ``RFC3339NanoFixed``, e.g. ``2025-03-02T10:15:04.123456789Z``) and one space. Logs that print
  their own ISO time use fewer digits (ALB: 6, TGI / qdrant: 6 and two spaces), so it is not
  taken for a prefix;

then the platform envelopes:

* ``docker_json``: docker json-file ``{"log": "...\\n", "stream": "stdout", "time": "..."}``, and the
  fluentd / fluent-bit form with ``message`` and a ``kubernetes`` object; partial entries (no
  trailing newline) are joined with the entries that complete them;
* ``cri``: Kubernetes CRI ``<rfc3339> stdout F <msg>``, ``P`` partial lines joined;
* ``loki``: ``logcli --output=jsonl`` ``{"labels": {...}, "line": "...", "timestamp": "..."}``;
* ``gcp_logging``: Cloud Logging entries with ``textPayload`` / ``jsonPayload``, ``trace``, ``httpRequest``;
* ``cloudwatch``: CloudWatch Logs events ``{"timestamp": ms, "message": "...", "logStreamName": ...}``;
* ``elasticsearch_hit``: ``_search`` / elasticdump NDJSON hits ``{"_index", "_source": {...}}``;

and, when most lines of a file carry them (a prefix alone is too weak a signal for one line):

* ``syslog``: journald / syslog short prefixes ``Mar  2 10:15:04 host tag[pid]: <msg>``.

Kinds are chosen on a file's sample (its head) and then applied to every line of the file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import polars as pl

from timeline.parserkit.api import Sample
from timeline.parserkit.timestamps import parse_epoch, parse_iso8601
from timeline.schema import ID_STRUCT, KV_STRUCT

LINE_PREFIX_SHARE: Final = 0.8
MAX_DEPTH: Final = 3

_CRI = r"^(?P<time>\d{4}-\d{2}-\d{2}T\S+) (?P<stream>stdout|stderr) (?P<tag>[FP]) ?(?P<msg>.*)$"
_COMPOSE = (
    r"^(?P<head>(?:\x1b\[[0-9;]*m)?(?P<service>[A-Za-z0-9][\w.-]*?) +)\|(?: |$)(?:\x1b\[0?m)?"
    r"(?P<msg>.*)$"
)
_KUBECTL = r"^\[pod/(?P<pod>[a-z0-9][a-z0-9.-]*)/(?P<container>[a-z0-9-]*)\](?: |$)(?P<msg>.*)$"
_DOCKER_TS = (
    r"^(?P<time>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}(?:Z|[+-]\d{2}:\d{2}))(?: |$)(?P<msg>.*)$"
)
_GREP = r"^(?P<path>[\w.@%+~/-]+):(?P<rest>(?:(?P<lineno>\d+):)?(?P<msg>.*))$"
_CRI_AFTER_TIME = r"^(?:stdout|stderr) [FP](?: |$)"  # a CRI line, not a docker -t stamp
_LOG_EXT = r"(?i)\.(?:log|txt|out|err|json|jsonl|ndjson)(?:[.-]\d+)*(?:\.gz)?$"
_SOURCE_EXT = (
    r"(?i)\.(?:py|pyx|go|rs|java|kt|scala|c|cc|cpp|cxx|h|hh|hpp|cu|js|mjs|cjs|ts|tsx|jsx|rb|php|cs"
    r"|swift|lua|pl|sh)$"
)
_DATE_PATH = r"^\d{1,4}/\w{1,3}/\d{1,4}$"
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
    # A sample-level condition beyond "some line matches" (sample lines, share that matches).
    present: Callable[[pl.DataFrame, float], bool] | None = None
    pattern: str | None = None  # the kind's regex: its groups are read with _f()


def _iso(expr: pl.Expr) -> pl.Expr:
    return parse_iso8601(expr).ts


_GROUPS: Final = "_groups"


def _f(name: str) -> pl.Expr:
    """A group of the kind's regex, extracted once per frame by :func:`_prepare`."""
    return pl.col(_GROUPS).struct.field(name)


def _prepare(lines: pl.DataFrame, kind: _Kind) -> pl.DataFrame:
    """``lines`` with the kind's regex groups as one struct column (one regex pass per kind)."""
    if kind.pattern is None:
        return lines
    return lines.with_columns(pl.col("line").str.extract_groups(kind.pattern).alias(_GROUPS))


_DOCKER_TEXT = pl.coalesce(_j("$.log"), _j("$.message"))
_NO_TIME = pl.lit(None, dtype=pl.Datetime("us", "UTC"))
_NO_HOST = pl.lit(None, dtype=pl.String)


def _grep_match() -> pl.Expr:
    path = _f("path")
    return (
        path.is_not_null()
        & (path.str.contains("/", literal=True) | path.str.contains(_LOG_EXT))
        & ~path.str.contains(_SOURCE_EXT)
        & ~path.str.contains(_DATE_PATH)
        & ~_f("rest").str.starts_with("//")
    )


def _compose_match() -> pl.Expr:
    return _f("service").is_not_null()


def _recurring(
    key: Callable[[], pl.Expr], match: Callable[[], pl.Expr]
) -> Callable[[pl.DataFrame, float], bool]:
    """Present when most sample lines match, or two matching lines share ``key`` (the same grep
    path, the same compose separator column)."""

    def present(lines: pl.DataFrame, share: float) -> bool:
        if share >= LINE_PREFIX_SHARE:
            return True
        keys = lines.select(pl.when(match().fill_null(False)).then(key()).alias("key"))
        return bool(keys.get_column("key").drop_nulls().is_duplicated().any())

    return present


KINDS: Final[tuple[_Kind, ...]] = (
    _Kind(
        "grep_prefix",
        True,
        _grep_match,
        lambda: _f("msg"),
        lambda: _NO_TIME,
        lambda: _NO_HOST,
        lambda: {
            "envelope.kind": pl.lit("grep_prefix"),
            "envelope.file": _f("path"),
            "envelope.file_line": _f("lineno"),
        },
        present=_recurring(lambda: _f("path"), _grep_match),
        pattern=_GREP,
    ),
    _Kind(
        "kubectl_prefix",
        True,
        lambda: _f("pod").is_not_null(),
        lambda: _f("msg"),
        lambda: _NO_TIME,
        lambda: _f("pod"),
        lambda: {
            "envelope.kind": pl.lit("kubectl_prefix"),
            "envelope.pod": _f("pod"),
            "envelope.container": pl.when(_f("container") != "").then(_f("container")),
        },
        pattern=_KUBECTL,
    ),
    _Kind(
        "compose",
        True,
        _compose_match,
        lambda: _f("msg"),
        lambda: _NO_TIME,
        lambda: _f("service"),
        lambda: {"envelope.kind": pl.lit("compose"), "envelope.service": _f("service")},
        present=_recurring(lambda: _f("head").str.len_chars(), _compose_match),
        pattern=_COMPOSE,
    ),
    _Kind(
        "docker_timestamps",
        True,
        lambda: _f("time").is_not_null() & ~_f("msg").str.contains(_CRI_AFTER_TIME),
        lambda: _f("msg"),
        lambda: _iso(_f("time")),
        lambda: _NO_HOST,
        lambda: {
            "envelope.kind": pl.lit("docker_timestamps"),
            "envelope.time": _f("time"),
        },
        pattern=_DOCKER_TS,
    ),
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
        lambda: _f("time").is_not_null(),
        lambda: _f("msg"),
        lambda: _iso(_f("time")),
        lambda: _NO_HOST,
        lambda: {
            "envelope.kind": pl.lit("cri"),
            "envelope.stream": _f("stream"),
            "envelope.time": _f("time"),
        },
        partial=lambda: _f("tag") == "P",
        pattern=_CRI,
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
        "syslog",
        False,
        lambda: _f("time").is_not_null(),
        lambda: _f("msg"),
        lambda: _NO_TIME,
        lambda: _f("host"),
        lambda: {
            "envelope.kind": pl.lit("syslog"),
            "envelope.time": _f("time"),
            "envelope.tag": _f("tag"),
            "envelope.pid": _f("pid"),
        },
        pattern=_SYSLOG,
    ),
)
_BY_NAME: Final = {k.name: k for k in KINDS}


def detect_kinds(lines: pl.DataFrame) -> tuple[str, ...]:
    """Envelope kinds present in ``lines`` (a sample), outermost first: per-line kinds if any line
    has them (and their sample rule holds), else a prefix kind if most lines have it."""
    if lines.height == 0:
        return ()
    shares: dict[str, float] = {}
    found: list[str] = []
    for kind in KINDS:
        prepared = _prepare(lines, kind)
        share = prepared.select(kind.match().fill_null(False).mean()).item() or 0.0
        shares[kind.name] = share
        if kind.per_line and share > 0 and (kind.present is None or kind.present(prepared, share)):
            found.append(kind.name)
    if not found:
        prefix = [k for k in KINDS if not k.per_line and shares[k.name] >= LINE_PREFIX_SHARE]
        found = [prefix[0].name] if prefix else []
    return tuple(found)


# Cheap pre-filters for the per-line prefixes (one regex pass over a file's lines): a line that
# matches none of them cannot carry a prefix the file's sample did not show.
_LATE_FILTER: Final[dict[str, str]] = {
    "grep_prefix": (
        r"^[\w.@%+~-]*/[\w.@%+~/-]*:"
        r"|(?i)^[\w.@%+~-]+\.(?:log|txt|out|err|json|jsonl|ndjson)(?:[.-]\d+)*(?:\.gz)?:"
    ),
    "kubectl_prefix": r"^\[pod/",
    "compose": r"^(?:\x1b\[[0-9;]*m)?[A-Za-z0-9][\w.-]*? +\|(?: |$)",
    "docker_timestamps": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}(?:Z|[+-]\d{2}:\d{2})(?: |$)",
}


def late_kinds(lines: pl.DataFrame, known: tuple[str, ...]) -> tuple[str, ...]:
    """Per-line prefix kinds that the file's sample did not show but its later lines carry.

    A prefix can first appear after the sample (a ``grep -r`` hit list sorted by file, a compose
    log a second service joins). Each kind's sample rule is applied to the whole file: its share
    is taken over every line, and recurring kinds still need two lines with the same key.
    """
    todo = [k for k in KINDS if k.per_line and k.name not in known and k.name in _LATE_FILTER]
    if not todo or lines.height == 0:
        return ()
    hits = lines.filter(pl.col("line").str.contains("|".join(_LATE_FILTER[k.name] for k in todo)))
    if hits.height == 0:
        return ()
    found: list[str] = []
    for kind in todo:
        prepared = _prepare(hits, kind)
        matched = prepared.select(kind.match().fill_null(False).sum()).item() or 0
        share = matched / lines.height
        if matched and (kind.present is None or kind.present(prepared, share)):
            found.append(kind.name)
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


def _pair_lists(
    frame: pl.DataFrame, pairs: dict[str, pl.Expr], names: tuple[str, str], struct: pl.Struct
) -> pl.Series:
    """Per row of ``frame``, the ``{name: key, value: value}`` structs of its non-null ``pairs``, in
    ``pairs`` order (what ``kv_list`` / ``id_list`` build). Built long and grouped: polars'
    ``concat_list`` of structs costs about 10 s per million rows, this about 0.5 s."""
    empty = pl.lit([], dtype=pl.List(struct))
    if not pairs or frame.height == 0:
        return frame.with_columns(empty.alias("_pairs")).get_column("_pairs")
    indexed = frame.with_row_index("_row")
    key_name, value_name = names
    long = pl.concat(
        [
            indexed.select(
                "_row",
                pl.struct(
                    pl.lit(key, dtype=pl.String).alias(key_name),
                    value.cast(pl.String).alias(value_name),
                ).alias("_pair"),
                value.is_not_null().alias("_ok"),
            ).filter("_ok")
            for key, value in pairs.items()
        ]
    )
    grouped = long.group_by("_row").agg("_pair")  # the order within a group is kept
    return (
        indexed.select("_row")
        .join(grouped, on="_row", how="left", maintain_order="left")
        .select(pl.col("_pair").fill_null(empty).cast(pl.List(struct)))
        .to_series()
    )


def _apply(lines: pl.DataFrame, kind: _Kind) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    partial = kind.partial() if kind.partial is not None else pl.lit(False)
    frame = _prepare(lines, kind).with_columns(kind.match().fill_null(False).alias("_m"))
    matched = frame.filter("_m")
    envelope = matched.select(
        "source_line",
        kind.ts().alias("env_ts"),
        kind.host().alias("env_host"),
        _pair_lists(matched, kind.attrs(), ("key", "value"), KV_STRUCT).alias("env_attrs"),
        _pair_lists(matched, kind.ids(), ("kind", "value"), ID_STRUCT).alias("env_ids"),
    )
    frame = frame.with_columns(
        pl.when("_m").then(kind.inner()).alias("_inner"),
        pl.when("_m").then(partial).otherwise(False).fill_null(False).alias("_partial"),
    )
    if not frame.get_column("_partial").any():
        return (
            frame.select(
                "source_line", pl.coalesce(pl.col("_inner"), pl.col("line")).alias("line")
            ),
            envelope,
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
    # A record's envelope is that of its first line.
    envelope = envelope.join(
        head.filter(pl.col("_m")).select("source_line"),
        on="source_line",
        how="semi",
        maintain_order="left",
    )
    return new_lines, envelope, merged


def unwrap(lines: pl.DataFrame, kinds: tuple[str, ...] | None = None) -> Unwrapped:
    """Unwrap ``lines`` (``source_line``, ``line``); ``kinds`` from :func:`detect_kinds` on a sample,
    or detected on ``lines`` itself when None. Nested envelopes are unwrapped up to three deep."""
    if kinds is None:
        kinds = detect_kinds(lines)
    else:
        late = late_kinds(lines, kinds)
        if late:
            chosen = set(kinds) | set(late)
            kinds = tuple(k.name for k in KINDS if k.name in chosen)
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
    envelopes = [e for e in envelopes if e.height]
    if not envelopes:
        return pl.DataFrame(schema=ENV_SCHEMA)
    if len(envelopes) == 1:  # one level: one row per record already
        return envelopes[0].select(ENV_SCHEMA.names()).cast(ENV_SCHEMA)
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
