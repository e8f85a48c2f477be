"""Line shapes of a llama.cpp server log (``llama-server``), from its logging code.

``common/log.cpp`` prints each entry as ``[<time> ][<L> ]<message>``: the time only with
``--log-timestamps`` (``M.SS.mmm.uuu`` since start in upstream builds; ``YYYY-MM-DD HH:MM:SS.mmm``
local time in some builds), the level letter (``I``/``W``/``E``/``D``) only with ``--log-prefix``,
both possibly ANSI-coloured (``--log-colors``). Continuation text (``LOG_CNT``) never has a prefix.
The server's macros (``tools/server``, formerly ``examples/server``) put a group and the function
name, cut and right-aligned to 12 characters, before the message:

* ``srv  %12.*s: msg`` (``SRV_*``), ``que  %12.*s: msg`` (``QUE_*``);
* ``slot %12.*s: id %2d | task %d | msg`` (``SLT_*``; ``task -1`` when the slot has none).

libllama / ggml lines are ``func: msg``. Before the logging rewrite (autumn 2024) the server
wrote JSON (``--log-format json``: ``{"tid":..,"timestamp":..,"level":..,"function":..,"line":..,
"msg":..,...}``) or text (``INFO [%24s] msg | tid="..." timestamp=... key=value``). In router mode
the output of a model's child process is prefixed with its port (``[42751] ``).

Every function here is a polars expression over the line column, so the parser stays vectorized.
"""

from __future__ import annotations

from typing import Final

import polars as pl

_ANSI: Final = r"(?:\x1b\[[0-9;]*m)*"

ROUTER: Final = r"^(?:\[(?P<child_port>\d+)\] )?(?P<rest>.*)$"
# `--log-timestamps` / `--log-prefix` (colours are stripped before).
PREFIX: Final = (
    r"^(?:(?P<uptime>\d+\.\d{2}\.\d{3}\.\d{3}) |(?P<wall>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}) )?"
    r"(?:(?P<lvl>[IWED]) )?(?P<body>.*)$"
)
# ROUTER, PREFIX and SERVER as header regexes: the text after the header is sliced off
# (:func:`timeline.parserkit.text.split_head`) rather than captured by ``(?P<...>.*)$``.
ROUTER_HEAD: Final = r"^(?P<_head>(?:\[(?P<child_port>\d+)\] )?)"
PREFIX_HEAD: Final = (
    r"^(?P<_head>(?:(?P<uptime>\d+\.\d{2}\.\d{3}\.\d{3}) |(?P<wall>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}) )?"
    r"(?:(?P<lvl>[IWED]) )?)"
)
SERVER_HEAD: Final = r"^(?P<_head>(?P<grp>srv |que |slot|spec) (?P<func>.{12}): ?)"
# SRV_* / QUE_* / SLT_* macros.
SERVER: Final = r"^(?P<grp>srv |que |slot|spec) (?P<func>.{12}): ?(?P<smsg>.*)$"
SLOT: Final = r"^id +(?P<slot>-?\d+) \| task (?P<task>-?\d+) \|(?: (?P<slmsg>.*))?$"
# Pre-rewrite server_log() text format: `INFO [                    main] msg | tid="1" timestamp=...`.
LEGACY: Final = (
    r"^\s?(?P<olevel>INFO|WARN|ERR|VERB|DEBUG) \[\s*(?P<ofunc>[^\]]+?)\] (?P<omsg>.*?)"
    r"(?: \| (?P<okv>.*))?$"
)
# Pre-rewrite server_log() JSON format: an object with `level` and `function` keys (any order:
# nlohmann::json sorts them, ordered_json keeps `tid, timestamp, level, function, line, msg`).
JSON: Final = r'^\{.*"level"\s*:\s*"[A-Z]+".*\}$'
JSON_FUNCTION: Final = r'"function"\s*:\s*"'
# libllama / ggml / common / server `func: msg` lines (`system info: ...` has a blank; the
# verbose `data stream, to_send: ...` dump of streamed chunks has no function name).
COMPONENT: Final = (
    r"^(?P<comp>[A-Za-z_][\w.]*(?:::[\w~]+)*|system info|data stream, to_send):(?: (?P<cmsg>.*))?$"
)
# January 2024: `llama server listening at http://127.0.0.1:8080`.
LISTENING: Final = r"^llama server listening at \S+"
# The timings printout's lines without a prefix (`SLT_INF(... "\n" "prompt eval time = ..."`).
TIMING: Final = (
    r"^\s*(?:prompt eval|eval|total) time = |^\s*draft acceptance(?: rate)? = |^\s*graphs reused = "
)
DOTS: Final = r"^\.+$"
INDENTED: Final = r"^[ \t]+\S"

# Shapes of a line, first match wins (`legacy` before `indent`: ` ERR [...]` starts with a blank).
SHAPES: Final = (
    ("server", SERVER),
    ("json", JSON),
    ("legacy", LEGACY),
    ("timing", TIMING),
    ("dots", DOTS),
    ("indent", INDENTED),
    ("listening", LISTENING),
    ("component", COMPONENT),
)
STRONG_SHAPES: Final = ("server", "json", "legacy")
START_SHAPES: Final = ("server", "json", "legacy", "component", "listening")
CONTINUATION_SHAPES: Final = ("timing", "indent", "timing_b")

# The chat-template line: its example (and, since 2025, the template source) holds newlines, so
# the lines up to the one closing the `example_format: '...'` quote continue it.
TEMPLATE_START: Final = r"chat template, (?:chat_template: |example_format: ')"
TEMPLATE_OPEN: Final = r"example_format: '"
TEMPLATE_CLOSED_ON_LINE: Final = r"example_format: '.*'$"

# A line that always begins a record (the pipeline may cut chunks before it): `srv` / `que`
# lines, the pre-rewrite JSON and text lines. `slot print_timing` lines may continue a record.
RECORD_START: Final = (
    rf"^{_ANSI}(?:\[\d+\] )?(?:(?:\d+\.\d{{2}}\.\d{{3}}\.\d{{3}}|\d{{4}}-\d{{2}}-\d{{2}} \d{{2}}:\d{{2}}:\d{{2}}\.\d{{3}}){_ANSI} )?"
    rf"(?:{_ANSI}[IWED] {_ANSI})?(?:srv  |que  )"
    r'|^\{"(?:tid|timestamp|function|level)"'
    r"|^\s?(?:INFO|WARN|ERR|VERB) \[\s*[^\]]+\] "
)

LEVELS: Final = {
    "I": "INFO",
    "W": "WARN",
    "E": "ERROR",
    "D": "DEBUG",
    "INFO": "INFO",
    "WARN": "WARN",
    "WARNING": "WARN",
    "ERR": "ERROR",
    "ERROR": "ERROR",
    "VERB": "DEBUG",
    "DEBUG": "DEBUG",
}


def shape(body: pl.Expr) -> pl.Expr:
    """The shape of a line's body (``other`` when none fits)."""
    expr: pl.Expr = pl.lit("other")
    for name, pattern in reversed(SHAPES):
        fits = body.str.contains(pattern)
        if name == "json":
            fits = fits & body.str.contains(JSON_FUNCTION)
        expr = pl.when(fits).then(pl.lit(name)).otherwise(expr)
    return expr


def level(text: pl.Expr) -> pl.Expr:
    """Severity of a level letter or word (``I``, ``ERR``, ``VERB`` ...)."""
    return text.str.strip_chars().replace_strict(LEVELS, default=None, return_dtype=pl.String)
