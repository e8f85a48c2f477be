"""Line shapes of an SGLang server log, from its logging setup.

``sglang/srt/utils`` ``configure_logger`` formats every record as
``[%(asctime)s{.%(msecs)03d}{prefix}] %(message)s`` with ``datefmt="%Y-%m-%d %H:%M:%S"`` (local
time, no zone; ``.mmm`` with ``SGLANG_LOG_MS=1``). ``prefix`` names the process's ranks:
`` DP0``, `` PP1``, `` ATTN_CP0``, `` MOE_DP1``, `` TP3``, `` EP3``, `` NP0`` (older builds always
wrote `` TP0``). No level is printed. uvicorn's formatters are set to
``[%(asctime)s] %(levelprefix)s %(message)s`` (older builds kept uvicorn's bare ``INFO:     ...``).
With ``--log-requests`` the request logger writes ``Receive: obj=...`` / ``Finish: obj=..., out=...``
through the root logger (older builds) or through its own ``%(message)s`` logger (no prefix), or
JSON lines (``--log-requests-format json``). Ray prints actor output behind ``(Name pid=N) ``.

Every function here is a polars expression over the line column, so the parser stays vectorized.
"""

from __future__ import annotations

from typing import Final

import polars as pl

# Ray's actor prefix: `(SGLangEngine pid=41820) `, `(Actor pid=1, ip=10.0.0.2) `.
RAY: Final = (
    r"^(?:\((?P<actor>[A-Za-z_][\w.-]*)(?: [^()=]*?)? pid=(?P<pid>\d+)(?:, ip=(?P<ip>[^)\s]+))?\)\s+)?"
    r"(?P<body>.*)$"
)
# configure_logger's prefix: `[2025-01-01 12:00:00.123 DP0 TP1] message`.
LOG: Final = (
    r"^\[(?P<ts>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d{1,6})?)"
    r"(?P<ranks>(?: [A-Z][A-Z_]*\d+)*)\](?: (?P<msg>.*))?$"
)
# The same shapes as header regexes; the text after the header is sliced off
# (:func:`timeline.parserkit.text.split_head`): a capture of the whole rest costs several
# times the header's match.
RAY_HEAD: Final = (
    r"^(?P<_head>\((?P<actor>[A-Za-z_][\w.-]*)(?: [^()=]*?)? pid=(?P<pid>\d+)"
    r"(?:, ip=(?P<ip>[^)\s]+))?\)\s+)"
)
LOG_HEAD: Final = (
    r"^(?P<_head>\[(?P<ts>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d{1,6})?)"
    r"(?P<ranks>(?: [A-Z][A-Z_]*\d+)*)\])"
)
UVICORN_HEAD: Final = r"^(?P<_head>(?P<ulevel>DEBUG|INFO|WARNING|ERROR|CRITICAL):\s+)"
# uvicorn's level prefix (`INFO:     msg`), inside the prefix or bare (older builds).
UVICORN: Final = r"^(?P<ulevel>DEBUG|INFO|WARNING|ERROR|CRITICAL):\s+(?P<umsg>.*)$"
ACCESS: Final = (
    r'^(?P<client>\S+):(?P<port>\d+) - "(?P<method>[A-Z]+) (?P<path>[^"?\s]*)'
    r'(?:\?(?P<query>[^"\s]*))? (?P<proto>HTTP/[\d.]+)" (?P<status>\d{3})(?: (?P<reason>.*))?$'
)
# The request logger's text lines.
REQUEST_LOG: Final = r"^(?P<rkind>Receive|Receive OpenAI|Finish): obj="
# The request logger's JSON lines (log_utils.log_json: timestamp, event, then the data).
JSON_REQUEST: Final = r'^\{"timestamp": "[^"]*", "event": "request\.'
# vLLM's logger (imported by older SGLang builds): not SGLang's format.
VLLM_LINE: Final = r"^(?:DEBUG|INFO|WARNING|ERROR|CRITICAL) \d{2}-\d{2} \d{2}:\d{2}:\d{2}[ .]"

# Python tracebacks after a message (logger.error(f"... {traceback}"), uvicorn's
# `Exception in ASGI application`) and raw ones on stderr.
TRACEBACK_TEXT: Final = r"Traceback \(most recent call last\):"
TRACEBACK_START: Final = rf"^{TRACEBACK_TEXT}\s*$"
CHAIN: Final = (
    r"^(?:During handling of the above exception, another exception occurred:"
    r"|The above exception was the direct cause of the following exception:)\s*$"
)
EXCEPTION: Final = (
    r"^(?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*(?:Error|Exception|Exit|Interrupt|Warning|Failure|Fault"
    r"|Timeout|Iteration)\w*(?::.*)?$"
)
INDENTED: Final = r"^[ \t]+\S"
# tqdm bars: `Loading safetensors checkpoint shards:  50% Completed | 2/4 [...]`, `100%|███| 23/23`.
PROGRESS: Final = r"^\s*(?:[^|]*?:\s*)?\d{1,3}%\s*(?:\||Completed \|)"

# What always begins a record (the pipeline may cut chunks before such a line).
RECORD_START: Final = (
    r"^(?:\([A-Za-z_][\w.-]*(?: [^()=]*?)? pid=\d+(?:, ip=[^)\s]+)?\)\s+)?"
    r"\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?: [A-Z][A-Z_]*\d+)*\]"
    r'|^\{"timestamp": "[^"]*", "event": "request\.'
    r"|^(?:Receive|Receive OpenAI|Finish): obj="
)

# Shapes of a line that is not a prefixed log line, first match wins.
SHAPES: Final = (
    ("progress", PROGRESS),
    ("vllm", VLLM_LINE),
    ("uvicorn", UVICORN),
    ("reqlog", REQUEST_LOG),
    ("json", JSON_REQUEST),
    ("tb_start", TRACEBACK_START),
    ("chain", CHAIN),
    ("exc", EXCEPTION),
    ("indent", INDENTED),
)
START_SHAPES: Final = ("log", "uvicorn", "reqlog", "json")
CONTINUATION_SHAPES: Final = ("tb_start", "chain", "exc", "indent")

# Messages that say something failed (SGLang prints no level).
ERROR_TEXT: Final = (
    r"hit an exception|Traceback \(most recent call last\)|Received sigquit from a child"
    r"|Exception in ASGI application|^(?:[A-Za-z_]\w*\.)*\w*(?:Error|Exception)\b"
    r"|\b\w+(?:Error|Exception): "
)

# Rank tags of the prefix -> attribute names.
RANKS: Final = (
    ("DP", "dp_rank"),
    ("PP", "pp_rank"),
    ("ATTN_CP", "attn_cp_rank"),
    ("MOE_DP", "moe_dp_rank"),
    ("TP", "tp_rank"),
    ("EP", "ep_rank"),
    ("NP", "node_rank"),
)


def shape(line: pl.Expr) -> pl.Expr:
    """The shape of a line without the ``[time]`` prefix (``other`` when none fits)."""
    expr: pl.Expr = pl.lit("other")
    for name, pattern in reversed(SHAPES):
        expr = pl.when(line.str.contains(pattern)).then(pl.lit(name)).otherwise(expr)
    return expr


def fits(shape_col: pl.Expr, error_record: pl.Expr, traceback_seen: pl.Expr) -> pl.Expr:
    """Whether a line of ``shape_col`` continues the record before it: indented lines and
    chained-exception separators always, ``Traceback (most recent call last):`` in an error
    record or a traceback already begun, ``SomeError: msg`` once a traceback has begun."""
    return (
        pl.when(shape_col.is_in(["indent", "chain"]))
        .then(pl.lit(True))
        .when(shape_col == "tb_start")
        .then(error_record | traceback_seen)
        .when(shape_col == "exc")
        .then(traceback_seen)
        .otherwise(pl.lit(False))
    )
