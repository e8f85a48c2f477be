"""Fields the OTLP parsers derive from a whole parsed frame (polars expressions, no loop per span).

``derive_fields`` runs on the event frame a parser built (canonical columns, ``attributes`` as a
list of ``{key, value}`` with the resource attributes under ``resource.*``):

* **host**: resource ``host.name`` -> ``k8s.pod.name`` -> ``container.name`` ->
  ``service.instance.id`` (one process of a service: a better clock source than the service
  name all replicas share) -> the parser's own choice (``service.name``).
* **documents**: an OpenInference ``RETRIEVER`` / ``RERANKER`` span always lists what it returned
  as ``retrieval.documents.N.*`` / ``reranker.output_documents.N.*``; without any, it returned
  nothing: ``doc_ids`` = ``[]`` (0 documents, so the requests table says ``docs_returned`` 0 and
  ``empty retrieval``), not null (unknown). Other retrieval spans (vector-store client spans) do
  not list documents, so theirs stay unknown.
* **model_revision** (where the parser set none): a model snapshot the server answered with that
  differs from the requested name it extends (``gen_ai.response.model`` ``gpt-4o-2024-08-06``
  for ``gen_ai.request.model`` ``gpt-4o``), else the OpenAI ``system_fingerprint``
  (``openai.response.system_fingerprint``, ``gen_ai.openai.response.system_fingerprint``). A
  revision written into the model name (``name@rev``) is filled for every parser by the
  normalizer.
* **rail groups**: a policy span that is the parent of other policy spans of its trace (NeMo
  Guardrails' ``guardrails.input`` / ``guardrails.output`` around its ``guardrails.rail`` spans)
  groups checks; it is not one. It leaves the policy layer (``layer`` other, ``event_type``
  ``server.log``, attribute ``policy.rail_group`` = number of rails), so that checks count one per
  rail. A group whose block no rail of it reports stays a check (the block is counted once).
"""

from __future__ import annotations

from typing import Final

import polars as pl

from timeline.schema import KV_STRUCT

HOST_KEYS: Final = (
    "resource.host.name",
    "resource.k8s.pod.name",
    "resource.container.name",
    "resource.service.instance.id",
)
FINGERPRINT_KEYS: Final = (
    "openai.response.system_fingerprint",
    "gen_ai.openai.response.system_fingerprint",
    "llm.system_fingerprint",
)
DOC_KINDS: Final = ("RETRIEVER", "RERANKER")


def attribute(key: str) -> pl.Expr:
    """The value of attribute ``key`` (first), or null: a column :func:`with_attributes` adds."""
    return pl.col(f"_attr|{key}")


LOOKED_UP: Final = (
    *HOST_KEYS,
    "openinference.span.kind",
    "gen_ai.request.model",
    *FINGERPRINT_KEYS,
)


def with_attributes(frame: pl.DataFrame, keys: tuple[str, ...] = LOOKED_UP) -> pl.DataFrame:
    """``frame`` plus one column per key of ``keys`` (:func:`attribute`): the value of the first
    attribute with that key, or null. One explode of ``attributes`` for all keys (a
    ``list.eval`` per key costs a pass over every list each)."""
    row = pl.int_range(pl.len(), dtype=pl.UInt32).alias("_r")
    kv = pl.col("attributes")
    found = (
        frame.select(row, kv)
        .explode("attributes", keep_nulls=False, empty_as_null=False)
        .select("_r", kv.struct.field("key"), kv.struct.field("value"))
        .filter(pl.col("key").is_in(keys))
        .unique(["_r", "key"], keep="first", maintain_order=True)
    )
    parts = dict(found.partition_by("key", as_dict=True)) if found.height else {}
    columns = []
    for key in keys:
        part = parts.get((key,))
        name = f"_attr|{key}"
        if part is None:
            columns.append(pl.repeat(None, frame.height, dtype=pl.String, eager=True).alias(name))
            continue
        where = pl.repeat(None, frame.height, dtype=pl.UInt32, eager=True).scatter(
            part.get_column("_r"), pl.int_range(part.height, eager=True, dtype=pl.UInt32)
        )
        columns.append(part.get_column("value").gather(where).alias(name))
    return frame.with_columns(columns)


def _with_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with every column ``derive_fields`` reads (typed nulls where missing)."""
    wanted: dict[str, pl.DataType] = {
        "layer": pl.String(),
        "event_type": pl.String(),
        "host": pl.String(),
        "model": pl.String(),
        "model_revision": pl.String(),
        "doc_ids": pl.List(pl.String),
        "trace_id": pl.String(),
        "span_id": pl.String(),
        "parent_span_id": pl.String(),
        "verdict": pl.String(),
        "attributes": pl.List(KV_STRUCT),
    }
    missing = [pl.lit(None, dtype=t).alias(c) for c, t in wanted.items() if c not in frame.columns]
    return frame.with_columns(missing) if missing else frame


def _model_revision() -> pl.Expr:
    requested = attribute("gen_ai.request.model")
    snapshot = (
        pl.when(
            pl.col("model").is_not_null()
            & requested.is_not_null()
            & (pl.col("model") != requested)
            & pl.col("model").str.starts_with(requested.fill_null(""))
        )
        .then(pl.col("model"))
        .otherwise(None)
    )
    fingerprint = pl.coalesce([attribute(k) for k in FINGERPRINT_KEYS])
    return pl.coalesce(pl.col("model_revision"), snapshot, fingerprint)


def _rail_groups(frame: pl.DataFrame) -> pl.DataFrame:
    """Per (trace_id, span_id) of a policy span with policy children: the number of child rails
    and whether any of them blocks."""
    policy = frame.filter(
        (pl.col("layer") == "policy") & pl.col("parent_span_id").is_not_null()
    ).select(
        "trace_id",
        pl.col("parent_span_id").alias("span_id"),
        (pl.col("verdict") == "block").fill_null(False).alias("_blocks"),
    )
    return policy.group_by("trace_id", "span_id").agg(
        pl.len().cast(pl.Int64).alias("_rails"), pl.col("_blocks").any().alias("_rail_blocks")
    )


def derive_fields(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with host, document counts, model revision and rail groups derived (see the
    module doc); other columns unchanged, row order kept."""
    if frame.height == 0:
        return frame
    work = with_attributes(_with_columns(frame))
    oi_kind = attribute("openinference.span.kind").str.to_uppercase()
    no_docs = (
        (pl.col("event_type") == "retrieval.query")
        & pl.col("doc_ids").is_null()
        & oi_kind.is_in(DOC_KINDS)
    ).fill_null(False)
    work = work.with_columns(
        pl.coalesce([*(attribute(k) for k in HOST_KEYS), pl.col("host")]).alias("host"),
        pl.when(no_docs)
        .then(pl.lit([], dtype=pl.List(pl.String)))
        .otherwise(pl.col("doc_ids"))
        .alias("doc_ids"),
        pl.when(pl.col("layer") == "inference")
        .then(_model_revision())
        .otherwise(pl.col("model_revision"))
        .alias("model_revision"),
    )
    work = work.drop([f"_attr|{k}" for k in LOOKED_UP])
    groups = _rail_groups(work)
    if groups.height == 0:
        return work.select(frame.columns + [c for c in work.columns if c not in frame.columns])
    joined = work.join(groups, on=["trace_id", "span_id"], how="left", maintain_order="left")
    group = (
        (pl.col("layer") == "policy")
        & pl.col("_rails").is_not_null()
        & ((pl.col("verdict") != "block").fill_null(True) | pl.col("_rail_blocks"))
    ).fill_null(False)
    mark = pl.concat_list(
        pl.col("attributes").fill_null(pl.lit([], dtype=pl.List(KV_STRUCT))),
        pl.concat_list(
            pl.struct(key=pl.lit("policy.rail_group"), value=pl.col("_rails").cast(pl.String))
        ),
    )
    out = joined.with_columns(
        pl.when(group).then(pl.lit("other")).otherwise(pl.col("layer")).alias("layer"),
        pl.when(group)
        .then(pl.lit("server.log"))
        .otherwise(pl.col("event_type"))
        .alias("event_type"),
        pl.when(group).then(mark).otherwise(pl.col("attributes")).alias("attributes"),
    ).drop("_rails", "_rail_blocks")
    return out.select(frame.columns + [c for c in out.columns if c not in frame.columns])
