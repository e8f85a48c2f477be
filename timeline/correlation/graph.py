"""The id graph at scale: nodes are numbered, components are found on node-node links only.

Two ids on one event are the same request; so are two events sharing an id. Instead of a graph of
events and ids (as large as the input), the graph here has one vertex per distinct usable id and one
link per extra id on an event: its size grows with the number of requests, not of events, and its
vertices are integers. Components are found by hooking and pointer jumping over whole columns
(a vectorized union-find): every round hooks each component's root under the smallest root it
touches, then flattens the trees; rounds grow with the logarithm of the longest alias chain.
"""

from __future__ import annotations

import hashlib

import polars as pl


def number_nodes(edges: pl.DataFrame, base: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Number the distinct nodes of ``edges`` (``row``, ``node``, ``prio``) from ``base`` in node order.

    Returns the edges as (``row``, ``nid``) and the nodes as (``nid``, ``node``, ``prio``: the lowest
    priority of any event that carries the node; gateway events come first)."""
    nodes = (
        edges.group_by("node")
        .agg(pl.col("prio").min())
        .sort("node")
        .with_row_index("nid", offset=base)
        .with_columns(pl.col("nid").cast(pl.Int64))
    )
    numbered = edges.join(nodes.select("node", "nid"), on="node").select("row", "nid")
    return numbered, nodes.select("nid", "node", "prio")


def alias_links(edges: pl.DataFrame) -> pl.DataFrame:
    """For events with more than one id (``row``, ``nid``): links (``a``, ``b``) from their
    smallest node to each other one."""
    with_first = edges.with_columns(pl.col("nid").min().over("row").alias("a"))
    return with_first.filter(pl.col("nid") != pl.col("a")).select("a", pl.col("nid").alias("b"))


def components(count: int, links: pl.DataFrame) -> pl.Series:
    """``label[nid]``: the smallest node of each node's component (nodes ``0 .. count-1``)."""
    parent = pl.int_range(count, eager=True, dtype=pl.Int64)
    pending = links.select(pl.col("a").cast(pl.Int64), pl.col("b").cast(pl.Int64))
    while True:
        parent = _flatten(parent)
        roots = pending.with_columns(
            parent.gather(pending["a"]).alias("ra"), parent.gather(pending["b"]).alias("rb")
        ).filter(pl.col("ra") != pl.col("rb"))
        if roots.height == 0:
            return parent
        hooks = roots.group_by(pl.max_horizontal("ra", "rb").alias("hi")).agg(
            pl.min_horizontal("ra", "rb").min().alias("lo")
        )
        parent = parent.scatter(hooks["hi"], hooks["lo"])
        pending = roots.select("a", "b")


def _flatten(parent: pl.Series) -> pl.Series:
    while True:
        grand = parent.gather(parent)
        if grand.equals(parent):
            return parent
        parent = grand


def best_nodes(nodes: pl.DataFrame) -> pl.DataFrame:
    """Per component (``label``): the node (``nid``, ``node``, ``prio``) smallest by (``prio``,
    ``node``). Reducing parts of a component and then the reduced rows gives the same answer."""
    return (
        nodes.sort("label", "prio", "node")
        .group_by("label", maintain_order=True)
        .first()
        .select("label", "nid", "node", "prio")
    )


def primaries(nodes: pl.DataFrame) -> pl.DataFrame:
    """Per component (``label``): its ``primary`` node and the request's ``correlation_id``, a hash
    of that node (the gateway's own id when it has one): stable across runs and input orders."""
    best = best_nodes(nodes)
    cids = [_cid(node) for node in best["node"].to_list()]
    return best.select(
        "label",
        pl.col("nid").alias("primary"),
        pl.Series("correlation_id", cids, dtype=pl.String),
    )


def _cid(primary: str) -> str:
    return "r-" + hashlib.sha256(primary.encode()).hexdigest()[:12]
