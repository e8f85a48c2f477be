"""Line shapes of a vLLM server log: vLLM's own logger, uvicorn, KServe, V1 process prefixes.

Every function here is a polars expression over the line column, so the parser stays vectorized.
"""

from __future__ import annotations

from typing import Final

import polars as pl

# V1 multiprocess prefix: `(APIServer pid=1) `, `(EngineCore_0 pid=240) `,
# `(VllmWorker TP0 pid=77) `, Ray's `(RayWorkerWrapper pid=1234, ip=10.0.0.2) `. vLLM writes the
# prefix and one space before every physical line (``_add_prefix``), so the body keeps a
# traceback frame's indentation.
PREFIX: Final = (
    r"^(?:\((?P<proc>[A-Za-z][\w.-]*)(?: [^()=]*?)? pid=(?P<pid>\d+)(?:, ip=(?P<ip>[^)\s]+))?\) ?)?"
    r"(?P<body>.*)$"
)

# vLLM's logger: legacy `INFO 04-10 03:35:27 file.py:80] msg`; 0.8+ `INFO 04-10 03:35:27 [file.py:80] msg`.
VLLM: Final = (
    r"^(?P<level>DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL) "
    r"(?P<ts>\d{2}-\d{2} \d{2}:\d{2}:\d{2})(?:\.\d+)? "
    r"(?:\[(?P<file_a>[^\]\s]+?):(?P<lineno_a>\d+)\]|(?P<file_b>[^\]\s]+?):(?P<lineno_b>\d+)\])"
    r"(?: (?P<msg>.*))?$"
)

# KServe loggers around vLLM: `2025-05-14 17:45:10.901 1647689 kserve.trace msg` and
# `2025-05-14 17:45:10.901 uvicorn.access INFO:     ip:port pid - "..." 200`.
KSERVE: Final = (
    r"^(?P<kts>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:[.,]\d+)?) "
    r"(?:(?P<kpid>\d+) (?P<klogger_a>(?:kserve|uvicorn)[\w.]*)|(?P<klogger_b>(?:kserve|uvicorn)[\w.]*)(?: (?P<kpid_b>\d+))?) ?"
    r"(?P<krest>.*)$"
)
# KServe's own format after the logger name: `INFO [model_server.py:start():234] msg`.
KSERVE_LEVEL: Final = r"^(?P<klevel>DEBUG|INFO|WARNING|ERROR|CRITICAL)(?::\s+| (?:\[(?P<kcode>[^\]]*)\] )?)(?P<kmsg>.*)$"

# uvicorn's default and access formatters: `INFO:     msg`.
UVICORN: Final = r"^(?P<ulevel>DEBUG|INFO|WARNING|ERROR|CRITICAL):\s+(?P<umsg>.*)$"
ACCESS: Final = (
    r'^(?P<client>\S+):(?P<port>\d+)(?: (?P<apid>\d+))? - "(?P<method>[A-Z]+) '
    r'(?P<path>[^"?\s]*)(?:\?(?P<query>[^"\s]*))? (?P<proto>HTTP/[\d.]+)" (?P<status>\d{3})(?: (?P<reason>.*))?$'
)

# The stdlib default formatter (`logging.basicConfig()`): `INFO:root:msg`, `WARNING:vllm.foo:msg`.
STDLIB: Final = (
    r"^(?P<slevel>DEBUG|INFO|WARNING|ERROR|CRITICAL):(?P<slogger>[A-Za-z_][\w.]*):(?P<smsg>.*)$"
)
# Bare request statistics lines (no logger header): `Request finished ... prompt_tokens=12 ...`.
STATS: Final = r"^(?:Request finished|Finished request)\b"

TRACEBACK_START: Final = r"^Traceback \(most recent call last\):\s*$"

# Lines with no event: tqdm progress bars, shard-loading bars, bare separators.
NOISE: Final = (
    r"^\s*(?:[\w .()-]*:\s*)?\d{1,3}%\s*(?:\||Completed \|)"
    r"|^\s*(?:Loading safetensors checkpoint shards|Capturing CUDA graph shapes|Capturing CUDA graphs)\b.*\d+/\d+"
    r"|^\s*[=\-*]{10,}\s*$"
)


# The same shapes as a header regex (the groups before the free text) whose match is followed by
# the text: each ``*_HEAD`` matches exactly where its full pattern above does, and the full
# pattern's last group is the rest of the line (see
# :func:`timeline.parserkit.text.split_head`). A capture of the
# whole rest (``(?P<msg>.*)$``) costs about ten times the header's match; slicing is free.
PREFIX_HEAD: Final = r"^(?P<_head>\((?P<proc>[A-Za-z][\w.-]*)(?: [^()=]*?)? pid=(?P<pid>\d+)(?:, ip=(?P<ip>[^)\s]+))?\) ?)"
VLLM_HEAD: Final = (
    r"^(?P<_head>(?P<level>DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL) "
    r"(?P<ts>\d{2}-\d{2} \d{2}:\d{2}:\d{2})(?:\.\d+)? "
    r"(?:\[(?P<file_a>[^\]\s]+?):(?P<lineno_a>\d+)\]|(?P<file_b>[^\]\s]+?):(?P<lineno_b>\d+)\]))"
)
KSERVE_HEAD: Final = (
    r"^(?P<_head>(?P<kts>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:[.,]\d+)?) "
    r"(?:(?P<kpid>\d+) (?P<klogger_a>(?:kserve|uvicorn)[\w.]*)|(?P<klogger_b>(?:kserve|uvicorn)[\w.]*)(?: (?P<kpid_b>\d+))?) ?)"
)
UVICORN_HEAD: Final = r"^(?P<_head>(?P<ulevel>DEBUG|INFO|WARNING|ERROR|CRITICAL):\s+)"
STDLIB_HEAD: Final = (
    r"^(?P<_head>(?P<slevel>DEBUG|INFO|WARNING|ERROR|CRITICAL):(?P<slogger>[A-Za-z_][\w.]*):)"
)


def groups(expr: pl.Expr, pattern: str) -> pl.Expr:
    """``str.extract_groups`` (a struct of the named groups)."""
    return expr.str.extract_groups(pattern)


# Message kinds, first match wins (order matters: metrics before generic lines).
RECEIVED: Final = r"^Received request (?P<rid>\S+?): "
DETAILS: Final = r"^Request (?P<rid>\S+?) details: "
ADDED: Final = r"^Added request (?P<rid>\S+?)\.?$"
FINISHED: Final = r"^Finished request (?P<rid>\S+?)\.?$"
ABORTED: Final = r"^Aborted request(?:\(s\))? (?P<rid>\S+?)\.?$"
GENERATED: Final = (
    r"^Generated response (?P<rid>\S+?)(?: \((?P<stream>streaming delta|streaming complete)\))?: "
)
METRICS: Final = r"Avg prompt throughput: "
VERSION: Final = r"vLLM API server version (?P<version>\S+)"
CONFIG: Final = r"^Initializing an? (?:V1 )?LLM engine (?:\(v(?P<version>[^)\s]+)\) )?with config: "
ARGS: Final = r"(?:^|\s)(?:non-default args: \{|args: Namespace\()"

# Request ids: the OpenAI-style prefix, a 32-hex or UUID core, vLLM's suffixes
# (`-<n>` per prompt of a batch completion, `-<8 hex>` from newer internal ids).
REQUEST_ID: Final = (
    r"^(?P<base>(?:(?P<prefix>chatcmpl|cmpl|embd|pool|score|classify|rerank|tokn|resp|transcribe|translate)-)?"
    r"(?P<core>[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}))"
    r"(?P<suffix>(?:-\d{1,4})?(?:-[0-9a-f]{8})?)$"
)
FORWARDED_ID: Final = r"^(?:chatcmpl|cmpl|embd|pool|score|classify|rerank|tokn|resp|transcribe|translate)-(?P<rest>.+)$"
