"""Python tracebacks in logs: the exception class a traceback names."""

from __future__ import annotations

from typing import Final

import polars as pl

# A line naming an exception class: ``torch.OutOfMemoryError: ...``, ``KeyboardInterrupt``.
EXCEPTION_RE: Final = (
    r"(?m)^\s*((?:[A-Za-z_]\w*\.)*[A-Z]\w*"
    r"(?:Error|Exception|Exit|Interrupt|Failure|Fault|Timeout)\w*)(?::|\s*$)"
)


def exception_type(text: pl.Expr) -> pl.Expr:
    """The exception class named by a traceback line (``torch.OutOfMemoryError: ...``)."""
    return text.str.extract(EXCEPTION_RE, 1)


def last_exception_type(lines: pl.Expr) -> pl.Expr:
    """The last exception class named in a list of lines (the one a traceback ends with)."""
    return lines.list.eval(exception_type(pl.element())).list.drop_nulls().list.last()


# A line that continues a record: indented text (traceback frames and their source lines, wrapped
# arguments), a traceback's header (and multiprocessing's ``Process Name-1:`` line before it), the
# chaining sentences between tracebacks, and the final ``SomeError: message`` line that ends one.
CONTINUATION_RE: Final = (
    r"^(?:\s+\S"
    r"|Traceback \(most recent call last\):\s*$"
    r"|Process [\w.-]+:\s*$"
    r"|During handling of the above exception, another exception occurred:"
    r"|The above exception was the direct cause of the following exception:"
    r"|(?:[A-Za-z_]\w*\.)*[A-Z]\w*(?:Error|Exception|Exit|Interrupt|Failure|Fault|Timeout|Warning)\w*(?::|\s*$)"
    r")"
)


def is_continuation(text: pl.Expr) -> pl.Expr:
    """True for lines that continue a record (indented or traceback-shaped), never for other text."""
    return text.str.contains(CONTINUATION_RE).fill_null(False)
