"""The out-of-core building blocks: partition spill files and the id graph's union-find."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from timeline.correlation.graph import alias_links, components
from timeline.correlation.spill import Spill

SCHEMA = pl.Schema({"k": pl.Int64(), "s": pl.String(), "l": pl.List(pl.String())})


def _frame(n: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "k": list(range(n)),
            "s": [f"text-{i}-" * 4 for i in range(n)],
            "l": [[f"a{i}-" * 8, f"b{i}-" * 8] for i in range(n)],
        },
        schema=SCHEMA,
    ).with_columns(pl.col("l").list.eval(pl.element().str.to_uppercase()))


def test_rows_come_back_in_their_partition_in_write_order(tmp_path: Path) -> None:
    spill = Spill(tmp_path, "t", 7, SCHEMA, buffer_bytes=4000)
    frame = _frame(1000)
    for start in range(0, 1000, 90):
        piece = frame.slice(start, 90)
        spill.write(piece, piece["k"] % 7)
    for part in range(7):
        assert spill.read(part).equals(frame.filter(pl.col("k") % 7 == part))
    assert spill.read(99).height == 0
    spill.drop()
    assert not list(tmp_path.iterdir())


def test_slices_do_not_drag_their_parent_buffers_into_the_files(tmp_path: Path) -> None:
    """A partition of a sliced frame holding lists of strings must cost its own size on disk,
    not the size of the whole frame (polars' IPC writer copied the whole buffers: 25x)."""
    frame = _frame(20_000)
    spill = Spill(tmp_path, "t", 60, SCHEMA)
    spill.write(frame, frame["k"] % 60)
    spill.close()
    one = spill.path(0).stat().st_size
    alone = tmp_path / "alone.arrow"
    frame.filter(pl.col("k") % 60 == 0).write_ipc(alone, compression="lz4")
    assert one < 3 * alone.stat().st_size


def _naive(count: int, pairs: list[tuple[int, int]]) -> list[int]:
    parent = list(range(count))

    def find(x: int) -> int:
        while parent[x] != x:
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return [find(x) for x in range(count)]


@settings(max_examples=60, deadline=None)
@given(
    count=st.integers(1, 60),
    pairs=st.lists(st.tuples(st.integers(0, 59), st.integers(0, 59)), max_size=120),
)
def test_union_find_labels_every_node_with_the_smallest_of_its_component(
    count: int, pairs: list[tuple[int, int]]
) -> None:
    pairs = [(a % count, b % count) for a, b in pairs]
    links = pl.DataFrame(
        {"a": [a for a, _ in pairs], "b": [b for _, b in pairs]},
        schema={"a": pl.Int64, "b": pl.Int64},
    )
    assert components(count, links).to_list() == _naive(count, pairs)


def test_alias_links_join_every_id_of_an_event_to_its_smallest() -> None:
    edges = pl.DataFrame({"row": [1, 1, 1, 2, 3, 3], "nid": [5, 2, 9, 4, 7, 7]})
    links = alias_links(edges).sort("a", "b")
    assert links.rows() == [(2, 5), (2, 9)]
