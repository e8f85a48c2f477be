"""Appending to list columns (``attributes``, ``ids``) without ``pl.concat_list``.

``pl.concat_list`` of list-of-struct columns costs about 4 µs per row (polars 1.x/2.x builds each
row's list anew), more than most parsers spend on a line. The same result is a matter of offsets:
the appended entries are laid out in one flat array, the new offsets are a cumulative sum and one
``take`` puts every entry in place. Everything here is vectorized (numpy / Arrow), no Python per row.

The entries to append are given in long form: a frame with the row index ``_row`` (ascending) and
one column per struct field (or one struct column: the elements whole), in the order they are
appended within a row.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

ROW: str = "_row"


def long_entries(frame: pl.DataFrame, entries: Sequence[dict[str, pl.Expr]]) -> pl.DataFrame:
    """The entries of ``entries`` (each: struct field -> value expression over ``frame``) for
    every row of ``frame``, in long form (``_row`` plus the fields), rows in order and within a
    row in the order of ``entries``. An entry whose expressions are null everywhere still counts:
    filter the result to drop entries."""
    parts = [
        frame.select(pl.int_range(pl.len(), dtype=pl.Int64).alias(ROW), **entry)
        for entry in entries
    ]
    if not parts:
        raise ValueError("no entries")
    if len(parts) == 1:
        return parts[0]
    return pl.concat(parts).sort(ROW, maintain_order=True)


def append(lists: pl.Series, entries: pl.DataFrame, unique: bool = False) -> pl.Series:
    """``lists`` (a list-of-struct column) with ``entries`` (long form, see the module doc)
    appended to their rows; a null row with entries becomes a list of its entries, a null row
    without stays null. With ``unique``, each row keeps the first of equal elements (as
    ``list.unique(maintain_order=True)``) and a null row becomes an empty list."""
    n = lists.len()
    dtype = lists.dtype
    assert isinstance(dtype, pl.List)
    fields = [f.name for f in dtype.inner.fields] if isinstance(dtype.inner, pl.Struct) else []
    if entries.height == 0 and not unique:
        return lists
    rows = entries.get_column(ROW).to_numpy().astype(np.int64, copy=False)
    others = [c for c in entries.columns if c != ROW]
    if len(others) == 1 and isinstance(entries.schema[others[0]], pl.Struct):
        whole = pl.col(others[0])  # the elements themselves (null elements stay null)
    else:
        whole = pl.struct(fields)
    added = entries.select(whole.cast(dtype.inner)).to_series().to_arrow()
    base = lists.rechunk().to_arrow()
    if isinstance(base, pa.ChunkedArray):
        base = base.combine_chunks()
    base_nulls = base.is_null().to_numpy(zero_copy_only=False)
    old_start = base.offsets.to_numpy()[:-1].astype(np.int64, copy=False)
    base_lens = pc.fill_null(pc.list_value_length(base), 0).to_numpy(zero_copy_only=False)
    base_lens = base_lens.astype(np.int64, copy=False)  # a null row's range is ignored
    flat = base.values  # indexed through the offsets: no flatten (slow on structs)
    add = np.bincount(rows, minlength=n).astype(np.int64, copy=False)
    lens = base_lens + add
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lens, out=offsets[1:])
    add_start = np.zeros(n, dtype=np.int64)
    np.cumsum(add[:-1], out=add_start[1:])
    order = np.empty(int(offsets[-1]), dtype=np.int64)
    n_flat = len(flat)
    kept = int(base_lens.sum())
    if kept:
        # element k of row r: from old_start[r] + k to offsets[r] + k
        flat_rows = np.repeat(np.arange(n, dtype=np.int64), base_lens)
        within = np.arange(kept, dtype=np.int64) - np.repeat(offsets[:-1] - add_start, base_lens)
        order[offsets[flat_rows] + within] = old_start[flat_rows] + within
    if len(rows):
        rank = np.arange(len(rows), dtype=np.int64) - add_start[rows]
        order[offsets[rows] + base_lens[rows] + rank] = n_flat + np.arange(
            len(rows), dtype=np.int64
        )
    values = pa.concat_arrays([flat, added.cast(flat.type)]).take(pa.array(order))
    if unique:
        values, offsets = _first_distinct(values, lens, n)
        mask = None
    else:
        nulls = base_nulls & (add == 0)
        mask = pa.array(nulls) if nulls.any() else None
    out = pa.LargeListArray.from_arrays(pa.array(offsets), values, mask=mask)
    return pl.Series(lists.name, out).cast(dtype)


def _first_distinct(values: pa.Array, lens: np.ndarray, n: int) -> tuple[pa.Array, np.ndarray]:
    """Keep the first of equal elements within each row; the values and the new offsets."""
    rows = np.repeat(np.arange(n, dtype=np.int64), lens)
    long = pl.DataFrame({ROW: rows, "_v": pl.Series("_v", values)})
    keep = long.select(pl.struct(ROW, "_v").is_first_distinct()).to_series()
    if keep.all():
        kept_lens = lens
        kept = values
    else:
        kept = values.filter(keep.to_arrow())
        kept_lens = np.bincount(rows[keep.to_numpy()], minlength=n).astype(np.int64, copy=False)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(kept_lens, out=offsets[1:])
    return kept, offsets


def elements(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """The elements of the list column ``column`` of ``frame`` in long form: ``_row`` and the
    element (one struct column), null and empty lists contributing nothing."""
    rows = frame.select(pl.int_range(pl.len(), dtype=pl.Int64).alias(ROW), pl.col(column))
    return rows.filter(pl.col(column).list.len() > 0).explode(column)
