"""Line shapes of a Triton Inference Server log, from its logger's source.

``triton-inference-server/common`` ``src/logging.cc`` (``LogMessage::LogPreamble``) writes

* ``--log-format=default``: ``<L><MMDD> <HH:MM:SS.uuuuuu> <pid> <file>:<line>] <message>``
  (``gmtime_r``: UTC, no year);
* ``--log-format=ISO8601``: ``<YYYY-MM-DDTHH:MM:SSZ> <L> <pid> <file>:<line>] <message>``;

with ``L`` one of ``I`` / ``W`` / ``E`` (verbose lines are ``I`` too). Since the 24.06 release the
message is a JSON string (``TritonJson::SerializeString``, unless
``TRITON_SERVER_ESCAPE_LOG_MESSAGES=0``), so a record is one line; tables and protobuf dumps
(``LOG_TABLE_INFO`` / ``LOG_PROTOBUF_VERBOSE``) are never escaped and follow their first line.
Before 24.06 every message was written raw, newlines included.

Every function here is a polars expression over the line column, so the parser stays vectorized.
"""

from __future__ import annotations

from typing import Final

import polars as pl

# Both prefixes; the message is optional (a table's first line ends right after `] `).
PREFIX: Final = (
    r"^(?:(?P<dlevel>[IWEF])(?P<mmdd>\d{4}) (?P<hms>\d{2}:\d{2}:\d{2}\.\d{6})"
    r"|(?P<iso>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z) (?P<ilevel>[IWEF]))"
    r" (?P<pid>\d+) (?P<file>[^\s\]]+):(?P<lineno>\d+)\](?: (?P<msg>.*))?$"
)
# What every record's first line matches (the pipeline cuts chunks before such lines).
RECORD_START: Final = (
    r"^(?:[IWEF]\d{4} \d{2}:\d{2}:\d{2}\.\d{6}|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z [IWEF])"
    r" \d+ [^\s\]]+:\d+\](?: |$)"
)

# A message escaped by TritonJson::SerializeString (rapidjson: `"` `\` and control characters).
JSON_STRING: Final = (
    r'^"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]'
    r"|\\u(?:[0-9a-cA-CefEF][0-9a-fA-F]{3}|[dD][0-7][0-9a-fA-F]{2}))*\"$"
)

# tritonserver's FAIL_IF_ERR (server `src/common.h`), written to stderr without a prefix:
# `error: creating server: Internal - failed to load all models`.
_CODES: Final = (
    r"(?i:unknown|internal|not[ _]found|invalid[ _]arg(?:ument)?|unavailable|unsupported"
    r"|already[ _]exists|cancelled)"
)
EXIT: Final = rf"^error: (?P<ewhat>[^:]+): (?P<ecode>{_CODES}) - (?P<emsg>.*)$"
# `Internal: msg` (triton::common::Error::AsString) inside a message.
STATUS_CODE: Final = (
    r"(?:^|: )(Unknown|Internal|Not found|Invalid argument|Unavailable|Unsupported"
    r"|Already exists|Cancelled): "
)

# The NGC container's entrypoint banner (nvidia_entrypoint.sh), printed before tritonserver starts.
BANNER: Final = (
    r"^(?:=+|== Triton Inference Server ==|NVIDIA Release \S+ \(build \d+\)"
    r"|Triton Server Version \S+|Copyright \(c\) [\d-]+, NVIDIA CORPORATION.*"
    r"|Various files include modifications \(c\) NVIDIA CORPORATION.*"
    r"|This container image and its contents are governed by the NVIDIA Deep Learning Container License\."
    r"|By pulling and using the container, you accept the terms and conditions of this license:"
    r"|https://developer\.nvidia\.com/ngc/nvidia-deep-learning-container-license)\s*$"
)

# triton::common::TablePrinter: `+----+----+` borders and `| a  | b  |` rows.
TABLE_LINE: Final = r"^(?:\+[-+]*\+|\|.*\|)\s*$"
# InferenceRequest's `operator<<` after `prepared: ` (core `src/infer_request.cc`).
DUMP_HEADER: Final = (
    r"^(?:original inputs|override inputs|inputs|original requested outputs|requested outputs):$"
)
DUMP_INPUT: Final = r"^\[0x[0-9a-fA-Fx]+\] input: "
TOKEN: Final = r"^[^\s|+\[\]{}]\S*$"
# Python: `Traceback (most recent call last):`, frames, chained-exception separators, and
# pybind11's `error_already_set::what()` (`Type: msg` / `At:` / `  file(line): func`).
TRACEBACK_START: Final = r"^Traceback \(most recent call last\):\s*$"
AT: Final = r"^At:\s*$"
CHAIN: Final = (
    r"^(?:During handling of the above exception, another exception occurred:"
    r"|The above exception was the direct cause of the following exception:)\s*$"
)
EXCEPTION: Final = (
    r"^(?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*(?:Error|Exception|Exit|Interrupt|Warning|Failure|Fault"
    r"|Timeout|Iteration)\w*(?::.*)?$"
)
INDENTED: Final = r"^[ \t]+\S"
# protobuf DebugString / pretty JSON after a `... config: ` heading.
PROTO: Final = r"^(?:[A-Za-z_]\w*(?: \{|: .*)|[{}\[\]],?)$"

# Shapes of lines without a prefix, first match wins.
SHAPES: Final = (
    ("banner", BANNER),
    ("exit", EXIT),
    ("tb_start", TRACEBACK_START),
    ("table", TABLE_LINE),
    ("dump", DUMP_HEADER),
    ("dump", DUMP_INPUT),
    ("at", AT),
    ("at", CHAIN),
    ("exc", EXCEPTION),
    ("indent", INDENTED),
    ("proto", PROTO),
    ("token", TOKEN),
)

# A record's first line decides which continuation lines it takes. Before 24.06 the protobuf
# dump began on the heading's line (`Server side auto-completed config: name: "simple"`).
CONFIG_HEADING: Final = r"(?i)\bconfig(?:uration)?:(?:\s*$|\s+[A-Za-z_]\w*(?::| \{))"
PREPARED: Final = r"prepared: \[0x"

LEVELS: Final = {"I": "INFO", "W": "WARN", "E": "ERROR", "F": "FATAL"}


def shape(line: pl.Expr) -> pl.Expr:
    """The shape of a line that has no Triton prefix (``other`` when none fits)."""
    expr: pl.Expr = pl.lit("other")
    for name, pattern in reversed(SHAPES):
        expr = pl.when(line.str.contains(pattern)).then(pl.lit(name)).otherwise(expr)
    return expr


def decode(msg: pl.Expr) -> pl.Expr:
    """The message with JSON string escaping undone (24.06+); other messages as written."""
    escaped = msg.str.contains(JSON_STRING).fill_null(False)
    decoded = pl.when(escaped).then(msg).otherwise(pl.lit('""')).str.json_decode(pl.String)
    return pl.when(escaped).then(decoded).otherwise(msg)


def fits(shape_col: pl.Expr, context: pl.Expr, traceback_seen: pl.Expr) -> pl.Expr:
    """Whether an unprefixed line of ``shape_col`` may continue a record of ``context``.

    Tables take only table lines, request dumps only dump lines, config dumps protobuf / JSON
    lines; every other record takes Python traceback lines (indented frames, ``At:``, the final
    ``SomeError: ...`` once a traceback has begun)."""
    not_table = context != "table"
    return (
        pl.when(shape_col == "table")
        .then(context == "table")
        .when(shape_col.is_in(["dump", "token"]))
        .then(context == "dump")
        .when(shape_col == "proto")
        .then(context == "config")
        .when(shape_col.is_in(["indent", "at"]))
        .then(not_table)
        .when(shape_col == "tb_start")
        .then(context == "error")
        .when(shape_col == "exc")
        .then((not_table & traceback_seen) | (context == "dump"))
        .otherwise(pl.lit(False))
    )
