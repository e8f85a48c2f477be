"""Connected components of the id graph (events <-> ids), vectorized label propagation."""

from __future__ import annotations

import hashlib

import polars as pl


def components(edges: pl.DataFrame) -> pl.DataFrame:
    """For ``edges`` (``row``, ``node``, ``prio``): one row per event with ``correlation_id`` and ``primary``.

    Labels start as the row number and take the minimum across shared ids until nothing changes
    (each round is two group-bys; rounds ~ the graph's diameter, a handful in practice). The
    request's ``correlation_id`` is a hash of its primary node, the smallest by (``prio``, node):
    the gateway's own request id when it has one. It is stable across runs and does not depend on
    which file was read first.
    """
    if edges.height == 0:
        return pl.DataFrame(
            schema={"row": pl.Int64, "correlation_id": pl.String, "primary": pl.String}
        )
    e = edges.select(pl.col("row").cast(pl.Int64), pl.col("node").rank("dense").alias("nid"))
    labels = e.select("row").unique().with_columns(pl.col("row").alias("label"))
    while True:
        node_label = e.join(labels, on="row").group_by("nid").agg(pl.col("label").min())
        new = e.join(node_label, on="nid").group_by("row").agg(pl.col("label").min())
        merged = labels.join(new, on="row", suffix="_new")
        if merged.filter(pl.col("label") != pl.col("label_new")).height == 0:
            break
        labels = merged.select("row", pl.col("label_new").alias("label"))
    primary = (
        edges.select(pl.col("row").cast(pl.Int64), "node", "prio")
        .join(labels, on="row")
        .group_by("label")
        .agg(pl.col("node").sort_by("prio", "node").first().alias("primary"))
    )
    ids = primary.with_columns(
        pl.Series(
            "correlation_id", [_cid(p) for p in primary["primary"].to_list()], dtype=pl.String
        )
    )
    return labels.join(ids, on="label").select("row", "correlation_id", "primary")


def _cid(primary: str) -> str:
    return "r-" + hashlib.sha256(primary.encode()).hexdigest()[:12]
