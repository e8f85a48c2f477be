"""Map SGLang log records (one row per record start) onto canonical events.

Expressions run over whole columns, so every pattern of one kind of record reads a column that
holds that kind's text and is null elsewhere (``cfg_text``, ``req_text`` ...): a regex over null
rows costs nothing. Lists (stats pairs, traceback lines) are exploded and grouped back instead
of evaluated row by row.
"""

from __future__ import annotations

import json
from typing import Any, Final

import polars as pl

from parsers.inference.sglang.lines import RANKS
from timeline.parserkit.frame import http_status
from timeline.parserkit.ids import id_list
from timeline.parserkit.jsonpaths import decode_paths, jp
from timeline.parserkit.kv import kv_column
from timeline.parserkit.pyrepr import literal, python_string
from timeline.parserkit.text import (
    captures,
    nullify,
    on_distinct,
    on_rows,
    row_positions,
    unquote,
)
from timeline.parserkit.timestamps import parse_iso8601, parse_pattern, with_parsed
from timeline.parserkit.tracebacks import exception_type
from timeline.parserkit.values import json_text
from timeline.schema import KV_STRUCT

_QUOTED: Final = r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*\""""
_REQUEST_HEAD: Final = r"^((?:Receive(?: OpenAI)?|Finish): obj=\w*)"
_REQUEST_KIND: Final = r"^(Receive|Receive OpenAI|Finish): obj="
# `rid=` of the logged GenerateReqInput / EmbeddingReqInput (a list for a batch request).
_RID_FIELD: Final = rf"(?:\(|, )rid=({_QUOTED}|\[[^\]]*\]|None)"
# `rid=` in any other message (`Abort request. rid=...`, `req.rid='...'`).
_LOOSE_RID: Final = r"""\brid=['"]?([0-9A-Za-z][\w.:-]*)"""
# The out dict's meta_info (its last occurrence: the text before it may hold anything).
_META: Final = r".*'meta_info': \{(.*)$"
_PROMPT: Final = rf"obj=\w+\(text=({_QUOTED})(?:, |\)$)"
_COMPLETION: Final = rf"out=\{{'text': ({_QUOTED})"
_SAMPLING: Final = r"sampling_params=(\{.*?\}), rid="
_STATS: Final = r"^(?P<batch>Prefill|Decode) batch(?:\((?P<mixed>[^)]*)\))?[.,] ?(?P<stats>.*)$"
_STAT_PAIR: Final = r"#?[A-Za-z][\w \-()/+.]*?: [^,]+"
_STARTUP: Final = (
    r"^(?:Load weight (?:begin|end)|Memory pool end|Capture cuda graph (?:begin|end)"
    r"|Init torch distributed (?:begin|ends?)|KV Cache is allocated)"
)
_CONFIG: Final = r"^server_args=ServerArgs\("
_READY: Final = r"^The server is fired up and ready to roll"
_CONFIG_ARGS: Final = (
    "served_model_name",
    "tokenizer_path",
    "quantization",
    "kv_cache_dtype",
    "context_length",
    "tp_size",
    "dp_size",
    "pp_size",
    "ep_size",
    "host",
    "port",
    "mem_fraction_static",
    "max_running_requests",
    "chunked_prefill_size",
    "attention_backend",
    "log_requests",
    "log_requests_level",
)
_SKIP_SAMPLING: Final = frozenset({"None", "", "[]", "{}"})
# The request logger's JSON fields (log_utils.log_json) -> column names.
_JSON_FIELDS: Final = {
    "j_timestamp": "$.timestamp",
    "j_event": "$.event",
    "j_rid": "$.rid",
    "j_prompt": "$.obj.text",
    "j_sampling": "$.obj.sampling_params",
    "j_completion": "$.out.text",
    "j_id": "$.out.meta_info.id",
    "j_prompt_tokens": "$.out.meta_info.prompt_tokens",
    "j_completion_tokens": "$.out.meta_info.completion_tokens",
    "j_cached_tokens": "$.out.meta_info.cached_tokens",
    "j_e2e_latency": "$.out.meta_info.e2e_latency",
    "j_finish_type": "$.out.meta_info.finish_reason.type",
    "j_abort_code": "$.out.meta_info.finish_reason.status_code",
    "j_abort_type": "$.out.meta_info.finish_reason.err_type",
    "j_abort_message": "$.out.meta_info.finish_reason.message",
}

_EVENT_TYPE: Final = {
    "access": "http.response",
    "receive": "inference.request",
    "finish": "inference.response",
    "metrics": "server.metrics",
    "config": "deploy.change",
    "ready": "server.start",
    "error": "inference.error",
    "log": "server.log",
}


def _arg(text: pl.Expr, name: str) -> pl.Expr:
    """A ``name=value`` field of a dataclass repr (``ServerArgs(model_path='x', tp_size=2)``)."""
    raw = text.str.extract(rf"[(,] ?{name}=('[^']*'|\"[^\"]*\"|[^,)]*)", 1)
    return nullify(unquote(raw.str.strip_chars(), "'\""))


def _json_fields(df: pl.DataFrame) -> pl.DataFrame:
    """The request logger's JSON fields (``j_*``), decoded once per JSON line (the JSON lines
    alone: the decoder's passes over the other rows' nulls are not free)."""
    keep = df.select((pl.col("shape") == "json").fill_null(False).alias("_keep")).to_series()
    if not keep.any():
        return df.with_columns(pl.lit(None, dtype=pl.String).alias(name) for name in _JSON_FIELDS)
    decoded = decode_paths(df.get_column("clean").filter(keep), list(_JSON_FIELDS.values()))
    fields = decoded.select([jp(path).alias(name) for name, path in _JSON_FIELDS.items()])
    pos = row_positions(keep)
    return df.hstack([column.gather(pos) for column in fields.get_columns()])


def _classify(df: pl.DataFrame) -> pl.DataFrame:
    """The kind of every record (``mkind``) and the text each kind's patterns read."""
    m = pl.col("message")
    df = _json_fields(df).with_columns(
        (pl.col("shape") == "json").alias("is_json"),
        m.str.extract(_REQUEST_KIND, 1).alias("rkind"),
        pl.int_range(pl.len()).alias("_i"),
    )
    event = pl.col("j_event")
    # `Receive OpenAI` / `request.received.openai`: the raw OpenAI payload before adaptation (no
    # rid); the `Receive` line that follows is the request.
    receive = (pl.col("rkind") == "Receive") | (event == "request.received")
    finish = (pl.col("rkind") == "Finish") | (event == "request.finished")
    plain = pl.col("rkind").is_null() & ~pl.col("is_json")
    cases: list[tuple[pl.Expr, str]] = [
        (pl.col("method").is_not_null(), "access"),
        (receive.fill_null(False), "receive"),
        (finish.fill_null(False), "finish"),
        (plain & m.str.contains(_STATS), "metrics"),
        (plain & m.str.contains(_CONFIG), "config"),
        (plain & m.str.contains(_READY), "ready"),
        (pl.col("severity").is_in(["ERROR", "FATAL"]), "error"),
    ]
    kind: pl.Expr = pl.lit("log")
    for cond, name in reversed(cases):
        kind = pl.when(cond.fill_null(False)).then(pl.lit(name)).otherwise(kind)
    df = df.with_columns(kind.alias("mkind"))
    mkind = pl.col("mkind")
    text_request = pl.col("rkind").is_not_null() & ~pl.col("is_json")
    df = df.with_columns(
        pl.when(text_request).then(m).alias("req_text"),
        pl.when(mkind == "config").then(m).alias("cfg_text"),
        pl.when(mkind == "metrics").then(m).alias("stats_text"),
        pl.when(mkind.is_in(["log", "error"]) & plain).then(m).alias("log_text"),
    )
    finish_text = pl.when(pl.col("rkind") == "Finish").then(pl.col("req_text"))
    return df.with_columns(finish_text.str.extract(_META, 1).alias("meta"))


def _attach(df: pl.DataFrame, found: pl.DataFrame) -> pl.DataFrame:
    """``found``'s columns beside ``df`` (rows matched on ``_i``, the row position)."""
    placed = df.select("_i").join(found, on="_i", how="left", maintain_order="left")
    return df.hstack(placed.drop("_i").get_columns())


def _request_ids(df: pl.DataFrame) -> pl.DataFrame:
    """``rid``: the record's request id; a batch request (``rid=[...]``) gives one row per id."""
    req = pl.col("req_text")
    meta_id = unquote(pl.col("meta").str.extract(rf"^'id': ({_QUOTED})", 1), "'\"")
    field = req.str.extract(_RID_FIELD, 1)
    raw = pl.coalesce(
        pl.col("j_rid"),
        pl.col("j_id"),
        meta_id,
        field,
        pl.col("log_text").str.extract(_LOOSE_RID, 1),
    ).str.strip_chars()
    df = df.with_columns(raw.alias("_raw"))
    listed = pl.col("_raw").str.starts_with("[").fill_null(False)
    df = df.with_columns(listed.alias("_listed"))
    single = unquote(pl.col("_raw"), "'\"")
    if bool(df.get_column("_listed").any()):
        # the ids of the listed rows only; a list of several gives one row per id, an empty one
        # (`rid=[]`) a row without id: null, as `explode` drops the rows of empty lists
        ids = captures(pl.col("_raw"), r"""['"]([^'"]+)['"]""")
        df = on_rows(df, pl.col("_listed"), {"_rids": pl.when(ids.list.len() > 0).then(ids)})
        if bool(df.select((pl.col("_rids").list.len() > 1).any()).item()):
            df = df.explode("_rids")
        else:
            df = df.with_columns(pl.col("_rids").list.first())
        single = pl.when(pl.col("_listed")).then(pl.col("_rids")).otherwise(single)
    rid = nullify(single).alias("rid")
    return df.with_columns(rid).drop("_raw", "_listed", "_rids", strict=False)


def _sampling(text: str | None, from_json: bool) -> list[tuple[str, str]]:
    """``sampling.<k>`` pairs of a logged sampling_params dict (Python repr or JSON)."""
    if text is None:
        return []
    value: Any
    if from_json:
        try:
            value = json.loads(text)
        except ValueError:
            return []
    else:
        value = literal(text)
    if not isinstance(value, dict):
        return []
    out: list[tuple[str, str]] = []
    for key, item in value.items():
        shown = json_text(item)
        if shown is not None and shown not in _SKIP_SAMPLING:
            out.append((str(key), shown))
    return out


def _python_columns(df: pl.DataFrame) -> pl.DataFrame:
    """Python-literal payloads (prompt / completion reprs, sampling params), decoded in Python for
    the few rows that carry one."""
    mkind = pl.col("mkind")
    req = pl.col("req_text")
    df = df.with_columns(
        pl.when(mkind == "receive").then(req.str.extract(_PROMPT, 1)).alias("prompt_repr"),
        pl.when(mkind == "finish").then(req.str.extract(_COMPLETION, 1)).alias("output_repr"),
        pl.when(mkind == "receive")
        .then(pl.coalesce(pl.col("j_sampling"), req.str.extract(_SAMPLING, 1)))
        .alias("sampling_text"),
    )
    rows = df.select("_i", "prompt_repr", "output_repr", "sampling_text", "is_json").filter(
        pl.any_horizontal(
            pl.col("prompt_repr").is_not_null(),
            pl.col("output_repr").is_not_null(),
            pl.col("sampling_text").is_not_null(),
        )
    )
    index = rows.get_column("_i").to_list()
    prompts = rows.get_column("prompt_repr").to_list()
    outputs = rows.get_column("output_repr").to_list()
    params = rows.get_column("sampling_text").to_list()
    jsons = rows.get_column("is_json").to_list()
    decoded = rows.select("_i").with_columns(
        pl.Series("prompt_py", [python_string(p) for p in prompts], dtype=pl.String),
        pl.Series("completion_py", [python_string(o) for o in outputs], dtype=pl.String),
    )
    # sampling pairs as flat (row, key, value) columns, grouped back into lists
    flat: tuple[list[int], list[str], list[str]] = ([], [], [])
    for i, text, from_json in zip(index, params, jsons, strict=True):
        for key, value in _sampling(text, from_json):
            flat[0].append(i)
            flat[1].append("sampling." + key)
            flat[2].append(value)
    sampling = (
        pl.DataFrame(
            {"_i": flat[0], "key": flat[1], "value": flat[2]},
            schema={"_i": pl.Int64, "key": pl.String, "value": pl.String},
        )
        .group_by("_i", maintain_order=True)
        .agg(pl.struct("key", "value").alias("sampling_attrs"))
    )
    decoded = decoded.join(sampling, on="_i", how="left", maintain_order="left")
    return _attach(df, decoded)


def _stats_columns(df: pl.DataFrame) -> pl.DataFrame:
    """Scheduler stats (`#running-req: 1, token usage: 0.05, ...`) as ``stats_attrs``."""
    stats = pl.col("stats_text").str.extract_groups(_STATS)
    df = df.with_columns(stats.alias("_st"))
    pairs = (
        df.select("_i", "_st")
        .filter(pl.col("_st").is_not_null())
        .select("_i", pl.col("_st").struct.field("stats").str.extract_all(_STAT_PAIR).alias("p"))
        .explode("p")
        .drop_nulls("p")
        .select(
            "_i",
            pl.struct(
                key=pl.col("p")
                .str.extract(r"^\s*#?([^:]+?)\s*:", 1)
                .str.to_lowercase()
                .str.replace_all(r"[^a-z0-9]+", "_")
                .str.strip_chars("_"),
                value=pl.col("p").str.extract(r":\s*(.*?)\s*$", 1),
            ).alias("kv"),
        )
        .group_by("_i", maintain_order=True)
        .agg(pl.col("kv").alias("_pairs"))
    )
    df = _attach(df, pairs)
    return df.with_columns(
        pl.col("_st").struct.field("batch").str.to_lowercase().alias("stats_batch"),
        pl.col("_st").struct.field("mixed").str.extract(r"(\d+)", 1).alias("stats_mixed"),
        pl.col("_pairs").cast(pl.List(KV_STRUCT)).alias("stats_attrs"),
    ).drop("_st", "_pairs")


def _traceback_columns(df: pl.DataFrame) -> pl.DataFrame:
    """``tb_error``: the last exception class named by an error record's lines."""
    named = (
        df.select("_i", "mkind", "message", "cont_lines")
        .filter(pl.col("mkind") == "error")
        .select(
            "_i",
            pl.concat_list(
                pl.col("message").str.split("\n"), pl.col("cont_lines").fill_null([])
            ).alias("l"),
        )
        .explode("l")
        .with_columns(exception_type(pl.col("l")).alias("e"))
        .drop_nulls("e")
        .group_by("_i")
        .agg(pl.col("e").last().alias("tb_error"))
    )
    return _attach(df, named)


def _config_columns(df: pl.DataFrame) -> pl.DataFrame:
    """``cfg_<name>``: the fields of ``server_args=ServerArgs(...)`` records (read on those rows
    only, once per distinct text: a restart logs the same arguments again)."""
    text = pl.col("cfg_text")
    found = on_distinct(
        df.select("_i", "cfg_text").filter(text.is_not_null()),
        ["cfg_text"],
        {
            **{f"cfg_{name}": _arg(text, name) for name in ("model_path", "revision", "dtype")},
            # a one-item list (`['name']`) as its item
            **{
                f"cfg_{name}": _arg(text, name).str.replace(r"^\['?([^',\]]*)'?\]$", "$1")
                for name in _CONFIG_ARGS
            },
        },
    ).drop("cfg_text")
    return _attach(df, found)


def _time_columns(df: pl.DataFrame, timezone: str) -> pl.DataFrame:
    """``ts_source`` / ``ts_assumed_tz``: the ``[time]`` prefix, else the JSON line's timestamp
    (parsed once, on the JSON lines only: the ISO reader's steps cost on every row)."""
    prefixed = parse_pattern(pl.col("ts"), "%Y-%m-%d %H:%M:%S%.f", timezone)
    keep = df.select(pl.col("j_timestamp").is_not_null().alias("_keep")).to_series()
    logged = with_parsed(
        df.select("j_timestamp").filter(keep),
        parse_iso8601(pl.col("j_timestamp"), timezone),
        "_lts",
        "_las",
    )
    pos = row_positions(keep)
    return df.with_columns(
        pl.coalesce(prefixed.ts, logged.get_column("_lts").gather(pos)).alias("ts_source"),
        pl.coalesce("ts", "j_timestamp").alias("ts_raw"),
        pl.coalesce(prefixed.assumed_tz, logged.get_column("_las").gather(pos)).alias(
            "ts_assumed_tz"
        ),
    )


def _finish_columns(df: pl.DataFrame) -> pl.DataFrame:
    """Fields of a request's Finish line (text ``meta_info`` or JSON ``out.meta_info``)."""
    meta = pl.col("meta")

    def field(name: str) -> pl.Expr:
        return pl.coalesce(pl.col(f"j_{name}"), meta.str.extract(rf"'{name}': ([-\d.eE+]+)", 1))

    df = df.with_columns(meta.str.extract(r"'finish_reason': \{(.*?)\}", 1).alias("_fr"))
    fr = pl.col("_fr")
    return df.with_columns(
        field("prompt_tokens").cast(pl.Int64, strict=False).alias("f_prompt_tokens"),
        field("completion_tokens").cast(pl.Int64, strict=False).alias("f_completion_tokens"),
        field("cached_tokens").alias("f_cached_tokens"),
        field("e2e_latency").cast(pl.Float64, strict=False).alias("f_latency"),
        pl.coalesce("j_finish_type", fr.str.extract(r"'type': '([^']*)'", 1)).alias("f_type"),
        pl.coalesce("j_abort_code", fr.str.extract(r"'status_code': (\d+)", 1))
        .cast(pl.Int64, strict=False)
        .alias("f_code"),
        pl.coalesce("j_abort_type", fr.str.extract(r"'err_type': '([^']*)'", 1)).alias(
            "f_err_type"
        ),
        pl.coalesce(
            "j_abort_message", unquote(fr.str.extract(rf"'message': ({_QUOTED})", 1), "'\"")
        ).alias("f_message"),
    ).drop("_fr")


def semantic_columns(starts: pl.DataFrame, timezone: str) -> pl.DataFrame:
    """Canonical columns for the record starts (``cont_lines``: the merged lines)."""
    df = _time_columns(_classify(starts), timezone)
    df = _python_columns(df)
    df = _stats_columns(df)
    df = _traceback_columns(df)
    df = _finish_columns(df)
    df = _config_columns(df)
    m = pl.col("message")
    mkind = pl.col("mkind")
    finish = mkind == "finish"
    aborted = finish & (pl.col("f_type") == "abort")
    log_text = pl.col("log_text")
    df = df.with_columns(log_text.str.contains(_STARTUP).alias("_startup"))
    startup = pl.col("_startup")
    # the startup lines' fields: read on those rows only
    df = on_rows(
        df,
        startup,
        {
            "_model_class": log_text.str.extract(r"\btype=(\w+)", 1),
            "_dtype": log_text.str.extract(r"\bdtype=([\w.]+)", 1),
            "_avail_mem": log_text.str.extract(r"avail mem=([\d.]+) GB", 1),
            "_mem_usage": log_text.str.extract(r"mem usage=([\d.]+) GB", 1),
            "_kv_tokens": log_text.str.extract(r"#tokens: (\d+)", 1),
        },
    )
    cont_text = pl.when(pl.col("cont_lines").list.len() > 0).then(
        pl.col("cont_lines").list.join("\n")
    )
    is_traceback = cont_text.str.contains(r'(?m)^Traceback \(|^\s+File "') | (mkind == "error")
    event_type = mkind.replace_strict(_EVENT_TYPE, default="server.log", return_dtype=pl.String)
    status = (
        pl.when(mkind == "access")
        .then(http_status(pl.col("status").cast(pl.Int64, strict=False)))
        .when(aborted & (pl.col("f_code") >= 400))
        .then(pl.lit("error"))
        .when(aborted)
        .then(pl.lit("cancelled"))
        .when(finish & pl.col("f_type").is_not_null())
        .then(pl.lit("ok"))
        .when(mkind == "error")
        .then(pl.lit("error"))
    )
    message = (
        pl.when(pl.col("is_json"))
        .then(pl.col("j_event"))
        .when(pl.col("rkind").is_not_null())
        .then(m.str.extract(_REQUEST_HEAD, 1))
        .otherwise(nullify(m, ("",)))
    )
    ranks = nullify(pl.col("ranks"), ("",))
    rank_attrs = {attr: ranks.str.extract(rf"(?:^| ){tag}(\d+)(?: |$)", 1) for tag, attr in RANKS}
    attrs = {
        "process": pl.col("actor"),
        "pid": pl.col("pid"),
        "process_ip": pl.col("ip"),
        **rank_attrs,
        "client_port": pl.col("port"),
        "http_protocol": pl.col("proto"),
        "http_query": pl.col("query"),
        "batch": pl.col("stats_batch"),
        "mixed_running_req": pl.col("stats_mixed"),
        "request_log": pl.when(pl.col("is_json"))
        .then(pl.lit("json"))
        .when(pl.col("rkind").is_not_null())
        .then(pl.lit("text")),
        "cached_tokens": pl.when(finish).then(pl.col("f_cached_tokens")),
        "abort_message": pl.when(aborted).then(pl.col("f_message")),
        "model_class": pl.col("_model_class"),
        "dtype": pl.when(startup).then(pl.col("_dtype")).otherwise(pl.col("cfg_dtype")),
        "avail_mem_gb": pl.col("_avail_mem"),
        "mem_usage_gb": pl.col("_mem_usage"),
        "kv_cache_tokens": pl.col("_kv_tokens"),
        **{name: pl.col(f"cfg_{name}") for name in _CONFIG_ARGS},
        "traceback": pl.when(is_traceback).then(cont_text),
        "detail": pl.when(~is_traceback).then(cont_text),
    }
    limits_text = pl.when(log_text.str.starts_with("max_total_num_tokens=")).then(log_text)
    limits = limits_text.str.extract_all(r"\b\w+=[^,\s]+").list.eval(
        pl.struct(
            key=pl.element().str.extract(r"^(\w+)=", 1),
            value=pl.element().str.extract(r"=(.*)$", 1),
        )
    )
    df = df.with_columns(limits.cast(pl.List(KV_STRUCT)).alias("limits_attrs"))
    lists = [
        pl.col(name).cast(pl.List(KV_STRUCT))
        for name in ("stats_attrs", "limits_attrs", "sampling_attrs")
    ]
    # one list per row, built long in one pass (pl.concat_list of struct lists costs ten times
    # as much)
    df = df.with_columns(kv_column(df, attrs, lists, "all_attrs"))
    # a batch request's line gives one event per rid (last: the steps above match rows on `_i`)
    df = _request_ids(df)
    rid = pl.when(~mkind.is_in(["access", "metrics", "config", "ready"])).then(pl.col("rid"))
    error_type = (
        pl.when(mkind == "error")
        .then(pl.coalesce("tb_error", exception_type(log_text)))
        .when(aborted)
        .then(pl.col("f_err_type"))
    )
    return df.select(
        "source_line",
        "ts_source",
        "ts_raw",
        "ts_assumed_tz",
        pl.lit("inference").alias("layer"),
        event_type.alias("event_type"),
        pl.col("severity"),
        status.alias("status"),
        pl.when(mkind == "access")
        .then(pl.col("status").cast(pl.Int64, strict=False))
        .when(aborted)
        .then(pl.col("f_code"))
        .alias("status_code"),
        error_type.alias("error_type"),
        message.alias("message"),
        rid.alias("request_id"),
        id_list({"sglang_rid": rid}).alias("ids"),
        pl.when(mkind == "access").then(pl.col("method")).alias("http_method"),
        pl.when(mkind == "access").then(pl.col("path")).alias("http_route"),
        pl.when(mkind == "access").then(pl.col("client")).alias("client_address"),
        pl.col("cfg_model_path").alias("model"),
        pl.col("cfg_revision").alias("model_revision"),
        pl.lit("sglang").alias("provider"),
        pl.when(finish).then(pl.col("f_prompt_tokens")).alias("input_tokens"),
        pl.when(finish).then(pl.col("f_completion_tokens")).alias("output_tokens"),
        pl.when(finish).then((pl.col("f_latency") * 1000.0).round(3)).alias("duration_ms"),
        pl.when(finish).then(pl.col("f_type")).alias("finish_reason"),
        pl.when(mkind == "receive").then(pl.coalesce("prompt_py", "j_prompt")).alias("prompt_text"),
        pl.when(finish).then(pl.coalesce("completion_py", "j_completion")).alias("completion_text"),
        pl.col("all_attrs").alias("attributes"),
    )
