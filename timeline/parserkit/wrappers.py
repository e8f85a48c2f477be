"""The wrapper a service writes around a JSON response it logs: time, ids, stage, host.

``{"ts": ..., "request_id": ..., "stage": "input", "response": {...}}``: the wrapper's field
names vary by service, so each canonical column reads the first present of several aliases.

Parsers that decode their records once (:func:`timeline.parserkit.records.read_records` with
paths) ask for :data:`WRAPPER_PATHS` and build the columns with :func:`wrapper_columns_from` and
:func:`first_decoded`; the response a wrapper holds is found with a :class:`Response`, whose
:meth:`Response.paths` and :meth:`Response.heads` go into the same decode.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

import polars as pl

from timeline.parserkit.jsonpaths import ROOT, head_column_name, jh, jp, key_path
from timeline.parserkit.text import nullify
from timeline.parserkit.timestamps import parse_guess
from timeline.parserkit.verdicts import stage

TS_KEYS: Final = ("ts", "timestamp", "time", "@timestamp", "created_at", "logged_at")
REQUEST_ID_KEYS: Final = ("request_id", "requestId", "x_request_id", "x-request-id", "req_id")
SESSION_ID_KEYS: Final = ("session_id", "sessionId", "conversation_id", "thread_id")
TRACE_ID_KEYS: Final = ("trace_id", "traceId")
USER_ID_KEYS: Final = ("user_id", "user", "userId")
STAGE_KEYS: Final = ("stage", "direction", "phase", "source")
HOST_KEYS: Final = ("host", "hostname", "pod")
WRAPPER_KEYS: Final = (
    TS_KEYS
    + REQUEST_ID_KEYS
    + SESSION_ID_KEYS
    + TRACE_ID_KEYS
    + USER_ID_KEYS
    + STAGE_KEYS
    + HOST_KEYS
)
# The paths :func:`wrapper_columns_from` reads with :func:`first_decoded`.
WRAPPER_PATHS: Final = tuple(key_path(k) for k in WRAPPER_KEYS)
# Where a response's column says which wrapper key held it (null: the record itself).
RESPONSE_COLUMN: Final = "__response"
RESPONSE_KEY_COLUMN: Final = "__response_key"


def first_path(text: pl.Expr, paths: Sequence[str]) -> pl.Expr:
    """The first present of several JSON paths of ``text``; null tokens (``-``, empty) are null."""
    exprs = [nullify(text.str.json_path_match(p)) for p in paths]
    return exprs[0] if len(exprs) == 1 else pl.coalesce(exprs)


def first_key(text: pl.Expr, keys: Sequence[str]) -> pl.Expr:
    """:func:`first_path` of top-level ``keys``."""
    return first_path(text, [key_path(k) for k in keys])


def wrapped_object(text: pl.Expr, keys: Sequence[str], accept: str = r"^\{") -> pl.Expr:
    """The response a wrapper holds under one of ``keys`` (the first whose text matches
    ``accept``), else the record itself."""
    inner = [text.str.json_path_match(key_path(k)) for k in keys]
    return pl.coalesce(pl.coalesce([pl.when(i.str.contains(accept)).then(i) for i in inner]), text)


def first_decoded(paths: Sequence[str]) -> pl.Expr:
    """:func:`first_path` of decoded columns: the first of ``paths`` present (``jp(path)``, see
    :func:`timeline.parserkit.jsonpaths.decode_paths`); null tokens (``-``, empty) are null."""
    exprs = [nullify(jp(p)) for p in paths]
    return exprs[0] if len(exprs) == 1 else pl.coalesce(exprs)


def first_decoded_key(keys: Sequence[str]) -> pl.Expr:
    """:func:`first_decoded` of top-level ``keys`` (:func:`first_key` without a parse)."""
    return first_decoded([key_path(k) for k in keys])


def wrapper_columns(text: pl.Expr, timezone: str = "UTC") -> dict[str, pl.Expr]:
    """Canonical columns from the wrapper around a JSON record's response.

    Aliases (first found wins): ts ``ts|timestamp|time|@timestamp|created_at|logged_at`` (ISO
    8601 or an epoch number); request id ``request_id|requestId|x_request_id|x-request-id|req_id``;
    session ``session_id|sessionId|conversation_id|thread_id``; trace ``trace_id|traceId``; user
    ``user_id|user|userId``; stage ``stage|direction|phase|source``; host ``host|hostname|pod``.
    """
    return wrapper_columns_from(lambda keys: first_key(text, keys), timezone)


def wrapper_columns_from(
    first: Callable[[Sequence[str]], pl.Expr], timezone: str = "UTC"
) -> dict[str, pl.Expr]:
    """:func:`wrapper_columns`, each column read by ``first`` (the first present of a list of
    top-level key aliases), e.g. :func:`first_decoded_key` over records decoded with
    :data:`WRAPPER_PATHS`."""
    ts_raw = first(TS_KEYS)
    ts = parse_guess(ts_raw, timezone)
    return {
        "ts_raw": ts_raw,
        "ts_source": ts.ts,
        "ts_assumed_tz": ts.assumed_tz,
        "request_id": first(REQUEST_ID_KEYS),
        "session_id": first(SESSION_ID_KEYS),
        "trace_id": first(TRACE_ID_KEYS),
        "user_id": first(USER_ID_KEYS),
        "policy_stage": stage(first(STAGE_KEYS)),
        "host": first(HOST_KEYS),
    }


def _under(key: str, path: str) -> str:
    """``path`` (from ``$``) read inside top-level ``key``."""
    return key_path(key) + path[len(ROOT) :]


@dataclass(frozen=True)
class Response:
    """:func:`wrapped_object` over decoded records, with the response's own paths decoded too.

    Decode the records with :meth:`paths` (every response path, at the top level and under each
    wrapper key) and :meth:`heads`; :meth:`attach` then adds the response's text
    (:data:`RESPONSE_COLUMN`: only the rows that hold one under a key are parsed again, once) and
    which key held it (:data:`RESPONSE_KEY_COLUMN`), and :meth:`value` reads a response path from
    the decoded columns of that key. ``paths`` must name at least one path: a wrapper key is only
    told apart as an object when a path runs through it.
    """

    keys: tuple[str, ...]
    response_paths: tuple[str, ...]
    accept: str = r"^\{"
    response_heads: tuple[str, ...] = ()

    def paths(self) -> list[str]:
        """Every response path, at the top level and under each key."""
        return [
            *self.response_paths,
            *(_under(k, p) for k in self.keys for p in self.response_paths),
        ]

    def heads(self) -> list[str]:
        """The heads of the keys (whether, and as what kind of value, a record holds them) and of
        ``response_heads`` at the top level and under each key."""
        under = [_under(k, p) for k in self.keys for p in self.response_heads]
        return [*(key_path(k) for k in self.keys), *self.response_heads, *under]

    def attach(self, frame: pl.DataFrame, text: str = "text") -> pl.DataFrame:
        """``frame`` (decoded with :meth:`paths` and :meth:`heads`) with the response's text and
        key: the first key whose text matches ``accept``, else the record (``text``) itself."""
        whole = frame.get_column(text)
        resp = whole.clone()
        which = pl.repeat(None, frame.height, dtype=pl.Int32, eager=True).alias(RESPONSE_KEY_COLUMN)
        taken = pl.repeat(False, frame.height, dtype=pl.Boolean, eager=True)
        for index, key in enumerate(self.keys):
            held = frame.get_column(head_column_name(key_path(key))).is_not_null() & ~taken
            if not bool(held.any()):
                continue
            rows = held.arg_true()
            inner = whole.filter(held).str.json_path_match(key_path(key))
            accepted = inner.str.contains(self.accept).fill_null(False)
            if not bool(accepted.any()):
                continue
            picked = rows.filter(accepted)
            resp = resp.scatter(picked, inner.filter(accepted))
            which = which.scatter(picked, index)
            taken = taken.scatter(picked, True)
        return frame.with_columns(resp.alias(RESPONSE_COLUMN), which)

    def value(self, path: str) -> pl.Expr:
        """The text at ``path`` of the response (decoded: one of :meth:`paths`)."""
        return self._pick(jp, path)

    def head(self, path: str) -> pl.Expr:
        """The head of ``path`` of the response (one of ``response_heads``, see ``jh``)."""
        return self._pick(jh, path)

    def _pick(self, column: Callable[[str], pl.Expr], path: str) -> pl.Expr:
        """``column`` of ``path`` under the key that held the response (or at the top level)."""
        which = pl.col(RESPONSE_KEY_COLUMN)
        picked = [
            pl.when(which == i).then(column(_under(k, path))) for i, k in enumerate(self.keys)
        ]
        return pl.when(which.is_null()).then(column(path)).otherwise(pl.coalesce(picked))
