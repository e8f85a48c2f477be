"""HTTP access-log pieces: addresses, address lists and request targets."""

from __future__ import annotations

from typing import Final

import polars as pl

from timeline.parserkit.text import clean

# One address: IPv4 (optional port), IPv6 (optionally bracketed, optional port), or "unknown".
IP_RE: Final = (
    r"(?:\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?"
    r"|\[?[0-9A-Fa-f]*:[0-9A-Fa-f:.]*\]?(?::\d+)?"
    r"|unknown)"
)
# A comma-separated list of addresses, as X-Forwarded-For carries it.
IP_LIST_RE: Final = rf"{IP_RE}(?:\s*,\s*{IP_RE})*"
# ``scheme://authority`` at the start of an absolute URL.
ORIGIN_RE: Final = r"^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*"


def route(target: pl.Expr) -> pl.Expr:
    """The path of a request target or URL: ``scheme://host``, the query (``?...``) and the
    fragment removed; null when nothing is left."""
    return clean(target.str.replace(ORIGIN_RE, "").str.replace(r"[?#].*$", ""))


def query(target: pl.Expr) -> pl.Expr:
    """The query string of a request target (without ``?``), or null."""
    return clean(target.str.extract(r"\?([^#]*)", 1))


def first_hop(addresses: pl.Expr) -> pl.Expr:
    """The first address of an X-Forwarded-For style list (``"a, b, c"`` -> ``a``)."""
    return clean(addresses.str.extract(r'^[\s"]*([^\s,"]+)', 1))
