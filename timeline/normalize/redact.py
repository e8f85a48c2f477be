"""Secrets and personal data out of every table a build writes (and, via export, every report).

A value found by one of :data:`RULES` is replaced by a keyed hash marker, ``[kind:hash]``: hash is
the first 12 hex digits of HMAC-SHA256(salt, value), so the same value gives the same marker in
every column, file and table (ids still join, requests still correlate) while nobody without the
salt (:mod:`timeline.normalize.salt`) can test a guess.

Credentials (always redacted by the appendix; in the tables unless ``--keep-content``):

* header values: ``Authorization``, ``Proxy-Authorization``, ``Cookie``, ``Set-Cookie``,
  ``X-Api-Key``, ``Api-Key`` (``Name: value`` or ``"name": "value"``), and any attribute under
  such a key;
* ``name=value`` / ``"name": "value"`` where the name is a key, token, secret, password, signature
  (``api_key``, ``access_token``, ``client_secret``, ``X-Amz-Signature``, ``sig``, ...); numbers
  and booleans are left alone (``new_token: 412`` is a count);
* passwords in URLs (``scheme://user:password@host``) and bearer tokens;
* key shapes anywhere: JWTs, ``sk-`` / ``sk-proj-`` / ``sk-ant-``, ``AKIA`` / ``ASIA``, ``ghp_`` /
  ``gho_`` / ``github_pat_``, ``xox[bpas]-`` Slack tokens, ``AIza`` Google keys.

Personal data (in the tables unless ``--keep-content``; in the appendix unless
``--include-content``): e-mail addresses, phone numbers, payment card numbers (Luhn-checked).

Tables are redacted with whole-column polars expressions: one regex (Rust syntax: no look-around)
extracts the few distinct matches of each column, Python computes their markers, and
``str.replace_many`` puts them in. Identifier columns (``request_id``, ``trace_id``, the ``ids``
that are not sessions or users) get the credential and e-mail rules only: a decimal trace id must
not become a "card number".
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Literal

import polars as pl

Category = Literal["credential", "personal"]

MARKER: Final = re.compile(r"\[[a-z_]+:[0-9a-f]{12}\]")
HASH_DIGITS: Final = 12

# Columns that are never scanned: structure the tool writes itself, not log content.
STRUCTURAL: Final = frozenset(
    {
        "event_id",
        "source_file",
        "parser",
        "layer",
        "event_type",
        "severity",
        "status",
        "ts_raw",
        "prompt_hash",
        "http_method",
        "correlation_id",
        "correlation_method",
    }
)
# Identifier columns: credential and e-mail rules only (numbers in ids are not phones or cards).
ID_COLUMNS: Final = frozenset({"request_id", "trace_id", "span_id", "parent_span_id"})
# ``ids`` entries whose kind names a person or a session get every rule, like their columns.
PERSONAL_ID_KIND: Final = r"(?i)session|user|account|email|customer"

_VALUE_END: Final = r"""[^\s"'&#,;<>\[\]{}()]"""
_HEADER_NAMES: Final = (
    r"proxy-authorization|authorization|set-cookie|cookie|x-goog-api-key|x-api-key|api-key"
)
_SECRET_WORDS: Final = (
    r"key|token|secret|passwd|password|pass|pwd|signature|sig|credentials?|auth"
    r"|authorization|cookie"
)

# A name whose value is a credential (attribute keys, ``name=value``), matched against the last
# segment of the name (after ``.``, ``/`` or ``:``), lowercased.
_CREDENTIAL_NAME: Final = re.compile(
    r"(?:key|apikey|api[-_]key|token|secret|password|passwd|pass|pwd|signature|sig|credentials?"
    r"|auth|authorization|proxy-authorization|cookie|set-cookie"
    r"|.*[-_](?:api[-_]?key|access[-_]?key|secret[-_]?key|private[-_]?key|token|secret|password"
    r"|passwd|pwd|signature|credentials?|auth|authorization|cookie))"
)
_NOT_SECRET: Final = re.compile(
    r"(?i)[0-9.+-]*|true|false|null|none|nil|-|\[[a-z_]+:[0-9a-f]{12}\]"
)
_AUTH_SCHEME: Final = re.compile(r"(?i)((?:bearer|basic|token|digest|negotiate|apikey)\s+)(\S.*)")

# Key shapes: (kind, pattern). Used as rules and to name the kind of a credential value.
_SHAPES: Final[tuple[tuple[str, str], ...]] = (
    ("jwt", r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"),
    ("api_key", r"\bsk-[A-Za-z0-9_-]{16,}"),
    ("api_key", r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"),
    ("api_key", r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"),
    ("api_key", r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    ("api_key", r"\bAIza[A-Za-z0-9_-]{35}"),
)
_SHAPE_RES: Final = tuple((kind, re.compile(p, re.ASCII)) for kind, p in _SHAPES)


def marker(salt: bytes, kind: str, value: str) -> str:
    """``[kind:hash]``: the keyed hash of ``value`` (first 12 hex digits of HMAC-SHA256)."""
    digest = hmac.new(salt, value.encode("utf-8"), hashlib.sha256).hexdigest()[:HASH_DIGITS]
    return f"[{kind}:{digest}]"


def luhn_ok(digits: str) -> bool:
    """True when ``digits`` (only 0-9) passes the Luhn check."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def is_credential_name(name: str) -> bool:
    """True when a field, header or parameter called ``name`` holds a credential."""
    last = re.split(r"[./:]", name.strip("\"' ").lower())[-1]
    return _CREDENTIAL_NAME.fullmatch(last) is not None


def _plain(value: str) -> bool:
    """A value that cannot be a credential: empty, a number, a boolean, already a marker."""
    return _NOT_SECRET.fullmatch(value.strip()) is not None


Marks = Callable[[str, str], str]  # (kind, value) -> marker


def secret_marker(mark: Marks, value: str, fallback: str = "token") -> str:
    """The marker of a credential value, named by its shape (jwt, api_key) or ``fallback``."""
    kind = next((k for k, r in _SHAPE_RES if r.fullmatch(value)), fallback)
    return mark(kind, value)


def _credential_value(mark: Marks, value: str, fallback: str = "token") -> str:
    """``Bearer <marker>`` for an auth header value, else the value's marker."""
    value = value.strip()
    scheme = _AUTH_SCHEME.fullmatch(value)
    if scheme:
        return scheme.group(1) + secret_marker(mark, scheme.group(2).strip(), fallback)
    return secret_marker(mark, value, fallback)


Replace = Callable[[re.Match[str], Marks], str | None]


@dataclass(frozen=True)
class Rule:
    """One kind of sensitive text: a regex valid in both Python and Rust, and its replacement."""

    name: str
    category: Category
    pattern: str
    replace: Replace


def _url_password(m: re.Match[str], mark: Marks) -> str | None:
    password = m.group(2)
    if MARKER.fullmatch(password):
        return None
    return m.group(1) + secret_marker(mark, password, "password") + "@"


def _header(m: re.Match[str], mark: Marks) -> str | None:
    value = m.group(2).rstrip()
    if not value or _plain(value) or MARKER.match(value):
        return None
    return m.group(1) + _credential_value(mark, value) + m.group(0)[len(m.group(1)) + len(value) :]


def _keyed(m: re.Match[str], mark: Marks) -> str | None:
    name, value = m.group(2), m.group(3)
    quote = value[0] if len(value) >= 2 and value[0] in "\"'" and value[-1] == value[0] else ""
    inner = value[1:-1] if quote else value
    if m.group(0).startswith("[") and re.fullmatch(r"[0-9a-f]{12}", value):
        return None  # the inside of a marker, ``[token:0123456789ab]``
    if not is_credential_name(name) or _plain(inner):
        return None
    fallback = "password" if re.search(r"(?i)pass|pwd", name) else "token"
    return m.group(1) + quote + _credential_value(mark, inner, fallback) + quote


def _bearer(m: re.Match[str], mark: Marks) -> str | None:
    return m.group(1) + secret_marker(mark, m.group(2))


def _shape(kind: str) -> Replace:
    return lambda m, mark: mark(kind, m.group(0))


def _email(m: re.Match[str], mark: Marks) -> str | None:
    return mark("email", m.group(0).lower())


def _card(m: re.Match[str], mark: Marks) -> str | None:
    digits = re.sub(r"[^0-9]", "", m.group(0))
    if 13 <= len(digits) <= 19 and luhn_ok(digits):
        return mark("card", digits)
    return None


def _phone(low: int, high: int, plus: bool) -> Replace:
    def replace(m: re.Match[str], mark: Marks) -> str | None:
        digits = re.sub(r"[^0-9]", "", m.group(0))
        if not low <= len(digits) <= high:
            return None
        return mark("phone", ("+" if plus else "") + digits)

    return replace


RULES: Final[tuple[Rule, ...]] = (
    Rule(
        "url_password",
        "credential",
        r"""([A-Za-z][A-Za-z0-9+.-]*://[^/\s:@"'<>]*:)([^/\s@"'<>]+)@""",
        _url_password,
    ),
    Rule(
        "header",
        "credential",
        rf"""(\b(?i:{_HEADER_NAMES})["']?[ \t]*[:=][ \t]*["']?)([^"'\r\n]+)""",
        _header,
    ),
    Rule(
        "keyed",
        "credential",
        rf"""(\[?(["']?[A-Za-z0-9_.-]*(?i:{_SECRET_WORDS}))["']?[ \t]*[=:][ \t]*)"""
        rf"""("[^"\r\n]*"|'[^'\r\n]*'|{_VALUE_END}+)""",
        _keyed,
    ),
    Rule("bearer", "credential", r"(\b(?i:bearer)[ \t]+)([A-Za-z0-9._~+/=-]{8,})", _bearer),
    *(Rule(f"shape_{i}", "credential", p, _shape(k)) for i, (k, p) in enumerate(_SHAPES)),
    Rule(
        "email",
        "personal",
        r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
        _email,
    ),
    Rule("card", "personal", r"\b[2-6](?:[ -]?[0-9]){12,18}\b", _card),
    Rule(
        "intl_phone", "personal", r"\B\+[0-9]{1,3}(?:[ .-][0-9]{1,4}){2,5}\b", _phone(8, 15, True)
    ),
    Rule(
        "phone",
        "personal",
        r"(?:\([0-9]{2,4}\)[ .-]?|\b[0-9]{3}[ .-])[0-9]{3}[ .-][0-9]{4}\b",
        _phone(10, 11, False),
    ),
)


def _rust(pattern: str) -> str:
    """The pattern for polars (Rust regex): ASCII word boundaries, as Python's ``re.ASCII``."""
    return pattern.replace(r"\b", r"(?-u:\b)").replace(r"\B", r"(?-u:\B)")


@dataclass(frozen=True)
class Scanner:
    """A set of rules as one alternation (first rule wins at a position), in both dialects."""

    rules: tuple[Rule, ...]

    @functools.cached_property
    def rust(self) -> str:
        """The alternation for polars' ``str.extract_all``."""
        return "|".join(f"(?:{_rust(r.pattern)})" for r in self.rules)

    @functools.cached_property
    def python(self) -> re.Pattern[str]:
        """The alternation for Python's ``re`` (ASCII classes, as the Rust one)."""
        return re.compile("|".join(f"(?:{r.pattern})" for r in self.rules), re.ASCII)

    @functools.cached_property
    def compiled(self) -> tuple[tuple[Rule, re.Pattern[str]], ...]:
        """Each rule compiled alone, to replace a match found by the alternation."""
        return tuple((r, re.compile(r.pattern, re.ASCII)) for r in self.rules)

    def replacement(self, text: str, mark: Marks) -> str | None:
        """What a match ``text`` becomes (None: it is left as it is)."""
        for rule, pattern in self.compiled:
            m = pattern.fullmatch(text)
            if m is not None:
                out = rule.replace(m, mark)
                if out is not None and out != text:
                    return out
        return None

    def sub(self, value: str, mark: Marks) -> str:
        """``value`` with every match replaced (Python; for documents, not for tables)."""
        return self.python.sub(lambda m: self.replacement(m.group(0), mark) or m.group(0), value)


@functools.cache
def scanner(categories: frozenset[str], names: frozenset[str] | None = None) -> Scanner:
    """The rules of ``categories`` (and only ``names`` among them, when given)."""
    return Scanner(
        tuple(r for r in RULES if r.category in categories and (names is None or r.name in names))
    )


ALL: Final = frozenset({"credential", "personal"})
CREDENTIALS: Final = frozenset({"credential"})
_ID_RULES: Final = frozenset({r.name for r in RULES if r.category == "credential"} | {"email"})


def full_scanner() -> Scanner:
    """Every rule: free text, session and user ids, attribute values."""
    return scanner(ALL)


def id_scanner() -> Scanner:
    """Credentials and e-mail addresses only: request and trace ids."""
    return scanner(ALL, _ID_RULES)


class Mapper:
    """Markers for distinct matches, with one salt (cached: the same value, the same marker)."""

    def __init__(self, salt: bytes) -> None:
        """A mapper for ``salt``."""
        self.salt = salt
        self._cache: dict[tuple[str, str], str] = {}

    def mark(self, kind: str, value: str) -> str:
        """The marker of ``value``."""
        key = (kind, value)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = marker(self.salt, kind, value)
        return found

    def mapping(self, hits: Iterable[str], scan: Scanner) -> dict[str, str]:
        """Distinct matches to their replacements, longest first (for ``replace_many``)."""
        out: dict[str, str] = {}
        for hit in sorted(set(hits), key=lambda h: (-len(h), h)):
            new = scan.replacement(hit, self.mark)
            if new is not None:
                out[hit] = new
        return out

    def whole_values(self, values: Iterable[str]) -> dict[str, str]:
        """Credential values (under a credential key) to their markers."""
        out: dict[str, str] = {}
        for value in set(values):
            if not _plain(value) and not MARKER.search(value):
                out[value] = _credential_value(self.mark, value)
        return out


def _hits(expr: pl.Expr, scan: Scanner) -> pl.Expr:
    return expr.str.extract_all(scan.rust).explode().drop_nulls().unique().implode()


def _apply(expr: pl.Expr, mapping: dict[str, str]) -> pl.Expr:
    if not mapping:
        return expr
    return expr.str.replace_many(mapping, leftmost=True)


_STRING_LIST: Final = pl.List(pl.String)
_KV: Final = pl.List(pl.Struct({"key": pl.String, "value": pl.String}))
_IDS: Final = pl.List(pl.Struct({"kind": pl.String, "value": pl.String}))


@dataclass(frozen=True)
class _Plan:
    text: list[str]
    ids: list[str]
    lists: list[str]
    attributes: bool
    id_list: bool


def _plan(schema: pl.Schema, skip: frozenset[str]) -> _Plan:
    text = [
        c for c, t in schema.items() if t == pl.String and c not in skip and c not in ID_COLUMNS
    ]
    ids = [c for c, t in schema.items() if t == pl.String and c in ID_COLUMNS]
    lists = [c for c, t in schema.items() if t == _STRING_LIST and c not in skip]
    return _Plan(text, ids, lists, schema.get("attributes") == _KV, schema.get("ids") == _IDS)


def redact_frame(frame: pl.DataFrame, salt: bytes, skip: Sequence[str] = ()) -> pl.DataFrame:
    """``frame`` with credentials and personal data replaced by markers in every string.

    Scans every string column (identifier columns with the credential and e-mail rules), lists of
    strings, ``attributes`` values (a credential-named key hides its whole value) and ``ids``
    values. Columns in :data:`STRUCTURAL` and ``skip`` are left alone.
    """
    if frame.height == 0:
        return frame
    plan = _plan(frame.schema, STRUCTURAL | frozenset(skip))
    full, ids = full_scanner(), id_scanner()
    attr = pl.col("attributes").explode()
    id_entry = pl.col("ids").explode()
    personal = id_entry.struct.field("kind").str.contains(PERSONAL_ID_KIND).fill_null(False)
    exprs: dict[str, pl.Expr] = {}
    for c in plan.text:
        exprs[f"t:{c}"] = _hits(pl.col(c), full)
    for c in plan.ids:
        exprs[f"i:{c}"] = _hits(pl.col(c), ids)
    for c in plan.lists:
        exprs[f"t:{c}"] = _hits(pl.col(c).explode(), full)
    if plan.attributes:
        exprs["t:attributes"] = _hits(attr.struct.field("value"), full)
        exprs["keys"] = attr.struct.field("key").drop_nulls().unique().implode()
    if plan.id_list:
        value = id_entry.struct.field("value")
        exprs["t:ids"] = _hits(value.filter(personal), full)
        exprs["i:ids"] = _hits(value.filter(~personal), ids)
    found = frame.select(**exprs).row(0, named=True)
    mapper = Mapper(salt)
    full_map = mapper.mapping((h for k, v in found.items() if k.startswith("t:") for h in v), full)
    ids_map = mapper.mapping((h for k, v in found.items() if k.startswith("i:") for h in v), ids)
    out: list[pl.Expr] = [_apply(pl.col(c), full_map) for c in plan.text if found[f"t:{c}"]]
    out += [_apply(pl.col(c), ids_map) for c in plan.ids if found[f"i:{c}"]]
    out += [
        pl.col(c).list.eval(_apply(pl.element(), full_map)) for c in plan.lists if found[f"t:{c}"]
    ]
    if plan.attributes:
        out += _attributes(frame, found["keys"], full_map, mapper)
    if plan.id_list and (found["t:ids"] or found["i:ids"]):
        kind, value = pl.element().struct.field("kind"), pl.element().struct.field("value")
        is_personal = kind.str.contains(PERSONAL_ID_KIND).fill_null(False)
        new = pl.when(is_personal).then(_apply(value, full_map)).otherwise(_apply(value, ids_map))
        out.append(pl.col("ids").list.eval(pl.struct(kind.alias("kind"), new.alias("value"))))
    return frame.with_columns(out) if out else frame


def _attributes(
    frame: pl.DataFrame, keys: list[str], full_map: dict[str, str], mapper: Mapper
) -> list[pl.Expr]:
    secret_keys = [k for k in keys if is_credential_name(k)]
    whole: dict[str, str] = {}
    if secret_keys:
        pairs = frame.select(pl.col("attributes").explode().struct.unnest()).filter(
            pl.col("key").is_in(secret_keys) & pl.col("value").is_not_null()
        )
        whole = mapper.whole_values(pairs["value"].unique().to_list())
    if not whole and not full_map:
        return []
    key, value = pl.element().struct.field("key"), pl.element().struct.field("value")
    new = _apply(value, full_map)
    if whole:
        new = (
            pl.when(key.is_in(secret_keys))
            .then(value.replace(list(whole), list(whole.values())))
            .otherwise(new)
        )
    return [pl.col("attributes").list.eval(pl.struct(key.alias("key"), new.alias("value")))]


_TORN_TAIL: Final = r"""[^\s"',;&<>(){}\[\]]*$"""


def redact_rejects(frame: pl.DataFrame, salt: bytes) -> pl.DataFrame:
    """Rejects with ``excerpt`` and ``reason`` redacted; a truncated excerpt loses its last word.

    The excerpt is the first characters of the line: a secret cut at its end is too short for
    its pattern, so the partial word at the cut is dropped.
    """
    if frame.height == 0:
        return frame
    out = redact_frame(frame, salt, skip=("source_file", "parser"))
    if "excerpt" in out.columns and "line_length" in out.columns:
        cut = pl.col("line_length") > frame["excerpt"].str.len_bytes()
        out = out.with_columns(
            pl.when(cut)
            .then(pl.col("excerpt").str.replace(_TORN_TAIL, ""))
            .otherwise(pl.col("excerpt"))
            .alias("excerpt")
        )
    return out


def redact_text(value: str, salt: bytes, categories: frozenset[str] = ALL) -> str:
    """``value`` with the rules of ``categories`` applied (Python; for small documents)."""
    mapper = Mapper(salt)
    return scanner(categories).sub(value, mapper.mark)


def scrub_option(command: str, option: str = "--salt") -> str:
    """``command`` with the value of ``option`` (``--salt X``, ``--salt=X``) replaced by ``***``."""
    return re.sub(rf"({re.escape(option)}(?:=|\s+))('[^']*'|\"[^\"]*\"|\S+)", r"\1***", command)
