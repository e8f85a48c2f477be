"""Typed TOML models: declare a table's keys once, validate, and report every problem at once.

A :class:`Model` lists :class:`Key` entries; each has a kind (:class:`Str`, :class:`PathKind`,
:class:`Int`, :class:`Float`, :class:`Bool`, :class:`Choice`, :class:`Scalar`, :class:`List`,
:class:`Map`, :class:`Table`, :class:`Tables`, :class:`OneOf`), may be required, and has a
default. :meth:`Model.validate` never raises: it returns the cleaned values (the default in
place of a missing or invalid value) and adds to a :class:`Problems` list every unknown key
(with a "did you mean"), wrong type (what was given, what to use), out-of-range number, missing
required key and unknown choice. Checks that need domain knowledge stay with the caller: wrapped
around a kind with :class:`Checked` (or ``Map(keys=...)``) they report in place; checks across
keys are added to the same list afterwards. Every file reports in one style (:func:`render`)::

    timeline.toml: 2 problems:
      - [defaults.zone] unknown key; did you mean 'timezone'? (allowed: timezone, year)
      - [sources[1].match] is required; add a glob such as 'gateway/*.log'

A location is the dotted key path; ``[n]`` counts the items of a list or the blocks of an array
of tables from 1. Problems about the whole file (unreadable, not TOML) carry no location.
"""

from __future__ import annotations

import difflib
import enum
import json
import math
import re
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Final, NoReturn

from timeline.errors import ConfigError, SpecError

_BARE_KEY: Final = re.compile(r"^[A-Za-z0-9_-]+$")
_SHOWN_CHARS: Final = 40
_HEAD: Final = re.compile(r"[.\[]")


# ---------------------------------------------------------------------------------------------
# Problems and their rendering


@dataclass(frozen=True)
class Problem:
    """One problem: where (a dotted key path, or empty for the whole file) and what to do."""

    where: str
    text: str

    def __str__(self) -> str:
        return f"[{self.where}] {self.text}" if self.where else self.text


class Problems:
    """Every problem found in one file, in the order found."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def __len__(self) -> int:
        return len(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)

    def __iter__(self) -> Iterator[Problem]:
        return iter(self.items)

    def add(self, where: str, text: str) -> None:
        """Record a problem; ``text`` reads "what is wrong; what to do"."""
        self.items.append(Problem(where, text))

    def lines(self) -> list[str]:
        """One line per problem, ``[where] what is wrong; what to do``."""
        return [str(p) for p in self.items]

    def group(self, order: Iterable[str]) -> None:
        """Stable-sort the problems by their top-level key's place in ``order``.

        Problems about the whole file and unknown top-level keys come first; this puts the
        checks a caller makes across keys next to the key they are about.
        """
        rank = {name: i for i, name in enumerate(order)}
        self.items.sort(key=lambda p: rank.get(_HEAD.split(p.where, maxsplit=1)[0], -1))

    def unknown_key(self, where: str, key: str, allowed: Iterable[str]) -> None:
        """``key`` (at ``where``) is not one of the table's ``allowed`` keys."""
        self.add(where, f"unknown key; {hint(key, allowed)}")

    def unknown_value(self, where: str, value: Any, allowed: Iterable[str]) -> None:
        """``value`` is not one of the ``allowed`` choices."""
        self.add(where, f"unknown value {_show(value)}; {hint(value, allowed)}")

    def wrong_type(self, where: str, value: Any, expected: str) -> None:
        """``value`` has the wrong type; ``expected`` says what to use."""
        self.add(where, f"got {describe(value)}; use {expected}")

    def out_of_range(self, where: str, value: Any, expected: str) -> None:
        """``value`` has the right type but not an allowed value."""
        self.add(where, f"{_show(value)} is out of range; use {expected}")

    def missing(self, where: str, expected: str) -> None:
        """A required key is absent."""
        self.add(where, f"is required; add {expected}")

    def raise_if_any(self, path: str, error: type[ConfigError] | type[SpecError]) -> None:
        """Raise ``error`` for file ``path`` listing every problem, if there is any."""
        if self.items:
            fail(path, self, error)


def render(path: str, problems: Iterable[Problem] | Iterable[str]) -> str:
    """``<path>: <n> problem(s):`` then one ``  - ...`` line per problem."""
    lines = [str(p) for p in problems]
    noun = "problem" if len(lines) == 1 else "problems"
    body = "\n".join(f"  - {line}" for line in lines)
    return f"{path}: {len(lines)} {noun}:\n{body}"


def fail(path: str, problems: Problems, error: type[ConfigError] | type[SpecError]) -> NoReturn:
    """Raise ``error`` for file ``path`` with every problem (``SpecError`` keeps the list)."""
    if issubclass(error, SpecError):
        raise error(path, problems.lines())
    raise error(render(path, problems))


def suggest(word: Any, choices: Iterable[str]) -> str | None:
    """The choice closest to ``word`` (difflib, ignoring case), or None when nothing is close."""
    if not isinstance(word, str):
        return None
    by_lower = {c.lower(): c for c in reversed(list(choices))}
    close = difflib.get_close_matches(word.lower(), list(by_lower), n=1)
    return by_lower[close[0]] if close else None


def did_you_mean(word: Any, choices: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest choice, or ``""``."""
    close = suggest(word, choices)
    return f"; did you mean {close!r}?" if close else ""


def hint(word: Any, choices: Iterable[str], label: str = "allowed") -> str:
    """What to do instead of ``word``: ``did you mean 'x'? (allowed: a, b)`` or ``allowed: a, b``."""
    names = list(choices)
    close = suggest(word, names)
    listed = ", ".join(names)
    return f"did you mean {close!r}? ({label}: {listed})" if close else f"{label}: {listed}"


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = repr(value)
        return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 4] + "...'"
    if isinstance(value, int | float):
        return repr(value)
    return describe(value)


def describe(value: Any) -> str:
    """How a TOML value reads in a message: ``the string 'x'``, ``the number 3``, ``a table``."""
    if isinstance(value, bool):
        return _show(value)
    if isinstance(value, str):
        return f"the string {_show(value)}"
    if isinstance(value, int | float):
        return f"the number {_show(value)}"
    if isinstance(value, datetime):
        return f"the date-time {value.isoformat()}"
    if isinstance(value, date):
        return f"the date {value.isoformat()}"
    if isinstance(value, time):
        return f"the time {value.isoformat()}"
    if isinstance(value, list | tuple):
        return "a list" if value else "an empty list"
    if isinstance(value, Mapping):
        return "a table"
    return f"a {type(value).__name__}"


def join(where: str, key: str | int) -> str:
    """The location of ``key`` (a table key, or a 1-based item number) inside ``where``."""
    if isinstance(key, int):
        return f"{where}[{key}]"
    shown = key if _BARE_KEY.match(key) else json.dumps(key, ensure_ascii=False)
    return f"{where}.{shown}" if where else shown


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


# ---------------------------------------------------------------------------------------------
# Reading files


def loads_toml(text: str, problems: Problems) -> dict[str, Any] | None:
    """Parse TOML ``text``; on a syntax error add a file problem and return None."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        problems.add("", f"not valid TOML ({exc}); fix the TOML syntax there")
        return None


def load_toml(path: str | Path, problems: Problems) -> dict[str, Any] | None:
    """Read and parse the TOML file at ``path``; on failure add a file problem and return None."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        problems.add("", "no such file; check the path")
        return None
    except UnicodeDecodeError as exc:
        problems.add("", f"not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8")
        return None
    except OSError as exc:
        problems.add("", f"cannot read it ({exc.strerror or exc}); check the path and permissions")
        return None
    return loads_toml(text, problems)


# ---------------------------------------------------------------------------------------------
# Kinds of value


class _Invalid(enum.Enum):
    INVALID = 0


INVALID: Final = _Invalid.INVALID
"""What :meth:`Kind.check` returns for a value it rejected (after adding the problem)."""


class Kind:
    """A kind of TOML value. Subclasses set ``expected`` and implement ``accepts`` and ``clean``."""

    expected: str = "a value"
    plural: str = "values"

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` has this kind's TOML type (the range is checked by ``check``)."""
        raise NotImplementedError

    def clean(self, value: Any, where: str, problems: Problems, expected: str) -> Any:
        """Check the value (already of the right type); return it cleaned, or ``INVALID``."""
        return value

    def describe(self, where: str) -> str:
        """What to use, for messages (``where`` lets tables name themselves)."""
        return self.expected

    def check(self, value: Any, where: str, problems: Problems, expected: str | None = None) -> Any:
        """Validate ``value`` at ``where``: the cleaned value, or ``INVALID`` after a problem."""
        wanted = expected or self.describe(where)
        if not self.accepts(value):
            problems.wrong_type(where, value, wanted)
            return INVALID
        return self.clean(value, where, problems, wanted)


class Str(Kind):
    """A string; ``nonempty`` rejects ``""``."""

    plural = "strings"

    def __init__(self, expected: str = "a string", nonempty: bool = False) -> None:
        self.expected = expected
        self.nonempty = nonempty

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str)

    def clean(self, value: Any, where: str, problems: Problems, expected: str) -> Any:
        if self.nonempty and not value:
            problems.add(where, f"is empty; use {expected}")
            return INVALID
        return value


class PathKind(Str):
    """A non-empty file path; cleaned to a :class:`~pathlib.Path` (the caller resolves it)."""

    plural = "file paths"

    def __init__(self, expected: str = "a file path") -> None:
        super().__init__(expected, nonempty=True)

    def clean(self, value: Any, where: str, problems: Problems, expected: str) -> Any:
        cleaned = super().clean(value, where, problems, expected)
        return cleaned if cleaned is INVALID else Path(cleaned)


class Bool(Kind):
    """``true`` or ``false``."""

    expected = "true or false"
    plural = "booleans"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, bool)


class Int(Kind):
    """A whole number (not a boolean), optionally within ``[min, max]``."""

    plural = "whole numbers"

    def __init__(self, min: int | None = None, max: int | None = None) -> None:
        self.min, self.max = min, max
        self.expected = _range_text("a whole number", min, max, False)

    def accepts(self, value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    def clean(self, value: Any, where: str, problems: Problems, expected: str) -> Any:
        if (self.min is not None and value < self.min) or (
            self.max is not None and value > self.max
        ):
            problems.out_of_range(where, value, expected)
            return INVALID
        return value


class Float(Kind):
    """A number (whole or not, never a boolean or NaN), cleaned to ``float``.

    ``min_exclusive`` makes ``min`` itself out of range; ``finite`` rejects ``inf``.
    """

    plural = "numbers"

    def __init__(
        self,
        min: float | None = None,
        max: float | None = None,
        *,
        min_exclusive: bool = False,
        finite: bool = False,
    ) -> None:
        self.min, self.max = min, max
        self.min_exclusive, self.finite = min_exclusive, finite
        text = _range_text("a number", min, max, min_exclusive)
        self.expected = text.replace("a ", "a finite ", 1) if finite else text

    def accepts(self, value: Any) -> bool:
        return isinstance(value, int | float) and not isinstance(value, bool)

    def clean(self, value: Any, where: str, problems: Problems, expected: str) -> Any:
        try:
            number = float(value)
        except OverflowError:
            problems.out_of_range(where, value, expected)
            return INVALID
        if math.isnan(number):
            problems.wrong_type(where, value, expected)
            return INVALID
        low_ok = self.min is None or (
            number > self.min if self.min_exclusive else number >= self.min
        )
        high_ok = self.max is None or number <= self.max
        if not (low_ok and high_ok) or (self.finite and math.isinf(number)):
            problems.out_of_range(where, value, expected)
            return INVALID
        return number


def _range_text(noun: str, low: float | None, high: float | None, low_exclusive: bool) -> str:
    if low is not None and high is not None:
        return f"{noun} from {_number(low)} to {_number(high)}"
    if low is not None:
        if low == 0:
            return noun.replace("a ", "a positive " if low_exclusive else "a non-negative ", 1)
        return f"{noun} {'greater than' if low_exclusive else 'of at least'} {_number(low)}"
    if high is not None:
        return f"{noun} of at most {_number(high)}"
    return noun


class Choice(Kind):
    """One string out of ``choices``."""

    def __init__(self, choices: Iterable[str], plural: str = "values") -> None:
        self.choices = tuple(choices)
        self.expected = f"one of {', '.join(self.choices)}"
        self.plural = f"{plural} ({', '.join(self.choices)})"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str)

    def clean(self, value: Any, where: str, problems: Problems, expected: str) -> Any:
        if value not in self.choices:
            problems.unknown_value(where, value, self.choices)
            return INVALID
        return value


class Checked(Kind):
    """``kind``, then a domain check: ``rule(value)`` returns what is wrong and what to do, or None.

    This is how callers add checks that need domain knowledge (time zones, timestamp formats,
    canonical field names) while reporting through the same problem list, in place.
    """

    def __init__(self, kind: Kind, rule: Callable[[Any], str | None]) -> None:
        self.kind = kind
        self.rule = rule
        self.expected = kind.expected
        self.plural = kind.plural

    def describe(self, where: str) -> str:
        return self.kind.describe(where)

    def accepts(self, value: Any) -> bool:
        return self.kind.accepts(value)

    def clean(self, value: Any, where: str, problems: Problems, expected: str) -> Any:
        cleaned = self.kind.clean(value, where, problems, expected)
        if cleaned is INVALID:
            return INVALID
        problem = self.rule(cleaned)
        if problem:
            problems.add(where, problem)
            return INVALID
        return cleaned


class Scalar(Kind):
    """A string, number or boolean, kept as given."""

    expected = "a string, number or boolean"
    plural = "strings, numbers or booleans"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str | int | float)


class List(Kind):
    """A list whose items are all of kind ``item``; cleaned to a tuple of the valid items."""

    def __init__(self, item: Kind, expected: str | None = None) -> None:
        self.item = item
        self.expected = expected or f"a list of {item.plural}"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, list | tuple)

    def clean(self, value: Any, where: str, problems: Problems, expected: str) -> Any:
        items = [self.item.check(v, join(where, i), problems) for i, v in enumerate(value, 1)]
        return tuple(v for v in items if v is not INVALID)


class Map(Kind):
    """A table with free keys whose values are all of kind ``value``; invalid entries dropped.

    ``keys``, when given, is a domain check of each key: it returns what is wrong, or None.
    """

    def __init__(
        self,
        value: Kind,
        expected: str | None = None,
        keys: Callable[[str], str | None] | None = None,
    ) -> None:
        self.value = value
        self.fixed = expected
        self.keys = keys

    def describe(self, where: str) -> str:
        return self.fixed or (f"a table ([{where}])" if where else "a table")

    def accepts(self, value: Any) -> bool:
        return isinstance(value, Mapping)

    def clean(self, value: Any, where: str, problems: Problems, expected: str) -> Any:
        out: dict[str, Any] = {}
        for key, raw in value.items():
            at = join(where, str(key))
            problem = self.keys(str(key)) if self.keys is not None else None
            if problem:
                problems.add(at, problem)
            cleaned = self.value.check(raw, at, problems)
            if cleaned is not INVALID and not problem:
                out[str(key)] = cleaned
        return out


class Table(Kind):
    """A sub-table following ``model``; cleaned to its :class:`Values`."""

    plural = "tables"

    def __init__(self, model: Model, expected: str | None = None) -> None:
        self.model = model
        self.fixed = expected

    def describe(self, where: str) -> str:
        return self.fixed or (f"a table ([{where}])" if where else "a table")

    def accepts(self, value: Any) -> bool:
        return isinstance(value, Mapping)

    def clean(self, value: Any, where: str, problems: Problems, expected: str) -> Any:
        return self.model.validate(value, problems, where)


class Tables(Kind):
    """An array of tables (``[[name]]``) each following ``model``; invalid blocks are dropped."""

    def __init__(self, model: Model) -> None:
        self.model = model

    def describe(self, where: str) -> str:
        return f"an array of tables ([[{where}]])" if where else "an array of tables"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, list | tuple)

    def clean(self, value: Any, where: str, problems: Problems, expected: str) -> Any:
        out: list[Values] = []
        for i, raw in enumerate(value, 1):
            block = Table(self.model).check(raw, join(where, i), problems, "a table")
            if block is not INVALID:
                out.append(block)
        return tuple(out)


class OneOf(Kind):
    """The first of ``kinds`` whose TOML type fits the value decides (for example, name or table)."""

    def __init__(self, *kinds: Kind, expected: str) -> None:
        self.kinds = kinds
        self.expected = expected

    def accepts(self, value: Any) -> bool:
        return any(k.accepts(value) for k in self.kinds)

    def clean(self, value: Any, where: str, problems: Problems, expected: str) -> Any:
        kind = next(k for k in self.kinds if k.accepts(value))
        return kind.check(value, where, problems)


# ---------------------------------------------------------------------------------------------
# Models


@dataclass(frozen=True)
class Key:
    """One key of a table: its kind, whether it is required, its default, and what to use.

    ``expected`` replaces the kind's own wording in messages (for example, "a glob such as
    'gateway/*.log'" instead of "a string").
    """

    name: str
    kind: Kind
    required: bool = False
    default: Any = None
    expected: str | None = None

    def wanted(self, where: str) -> str:
        """What to use for this key, for messages."""
        return self.expected or self.kind.describe(where)


class Values(dict[str, Any]):
    """A validated table: every declared key (its default when missing or invalid).

    ``given`` holds the declared keys present in the input; ``invalid`` those rejected.
    """

    def __init__(
        self,
        values: dict[str, Any],
        given: frozenset[str] = frozenset(),
        invalid: frozenset[str] = frozenset(),
    ) -> None:
        super().__init__(values)
        self.given = given
        self.invalid = invalid

    def ok(self, key: str) -> bool:
        """Whether ``key`` was given and valid."""
        return key in self.given and key not in self.invalid


class Model:
    """The keys of one table."""

    def __init__(self, *keys: Key) -> None:
        self.keys = keys
        self.names = tuple(k.name for k in keys)

    def defaults(self) -> Values:
        """Every key at its default (sub-tables at theirs), as when the table is absent."""
        return Values({k.name: _default(k) for k in self.keys})

    def validate(self, value: Any, problems: Problems, where: str = "") -> Values:
        """Check ``value`` against the model; add every problem; return the cleaned values."""
        if not isinstance(value, Mapping):
            problems.wrong_type(where, value, f"a table ([{where}])" if where else "a table")
            return self.defaults()
        for key in value:
            if key not in self.names:
                problems.unknown_key(join(where, str(key)), str(key), self.names)
        out: dict[str, Any] = {}
        invalid: set[str] = set()
        for key in self.keys:
            at = join(where, key.name)
            if key.name not in value:
                if key.required:
                    problems.missing(at, key.wanted(at))
                out[key.name] = _default(key)
                continue
            cleaned = key.kind.check(value[key.name], at, problems, key.expected)
            if cleaned is INVALID:
                invalid.add(key.name)
                cleaned = _default(key)
            out[key.name] = cleaned
        given = frozenset(k for k in self.names if k in value)
        return Values(out, given, frozenset(invalid))


def _default(key: Key) -> Any:
    if key.default is None and isinstance(key.kind, Table):
        return key.kind.model.defaults()
    if isinstance(key.default, dict):
        return dict(key.default)
    return key.default
