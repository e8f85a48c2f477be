"""Map llama.cpp server records (one row per record start) onto canonical events."""

from __future__ import annotations

from typing import Final

import polars as pl

from parsers.inference.llama_cpp import lines as shapes
from timeline.parserkit import logfmt
from timeline.parserkit.frame import http_status
from timeline.parserkit.jsonpaths import decode_paths, jp, key_path
from timeline.parserkit.kv import kv_column
from timeline.parserkit.text import nullify, on_rows
from timeline.parserkit.timestamps import parse_epoch, parse_pattern

SKIP_REASON: Final = "model metadata dump"

# Fields of the 2024 server_log() lines (JSON keys, or `key=value` after ` | ` in text).
_FIELDS: Final = (
    "tid",
    "timestamp",
    "level",
    "function",
    "line",
    "msg",
    "message",
    "id_slot",
    "slot_id",
    "id_task",
    "task_id",
    "remote_addr",
    "remote_port",
    "status",
    "method",
    "path",
    "hostname",
    "port",
    "n_past",
    "truncated",
    "build",
    "commit",
    "n_ctx_slot",
    "n_slots",
    "model",
    "error",
)
_ACCESS: Final = (
    r"^(?:done )?request: (?P<a_method>[A-Z]+) (?P<a_path>\S+) (?P<a_addr>\S+) (?P<a_status>\d{3})$"
)
_NEW_PROMPT: Final = (
    r"new prompt, n_ctx_slot = (?P<n_ctx_slot>\d+), n_keep = (?P<n_keep>-?\d+), "
    r"(?:n_prompt_tokens|task\.n_tokens) = (?P<n_prompt>\d+)"
)
_RELEASE: Final = r"stop processing: n_past = (?P<r_past>\d+), truncated = (?P<r_trunc>\d+)"
_META_FROM: Final = (
    r"loaded meta data with \d+ key-value pairs and \d+ tensors from (?P<m_path>.+?) "
    r"\(version (?P<m_gguf>GGUF V\d+)"
)
_LOADING: Final = r"loading model '(?P<l_path>[^']+)'"
_LISTEN: Final = (
    r"(?:server is listening on|llama server listening at) (?P<url>\S+)"
    r"|HTTP server is listening, hostname: (?P<h_host>[^,]+), port: (?P<h_port>\d+)"
)
_SEND_ERROR: Final = r"^task id = (?P<e_task>\d+), error: "
_BUILD: Final = r"^(?P<b_build>\d+) \((?P<b_commit>[0-9a-f]+)\)"
_BODY_DUMP: Final = r"^(request|response|data stream, to_send):\s"
_GENERAL_NAME: Final = r"^general\.name\s+=\s+(.+)$"
_MODEL_INFO: Final = ("print_info", "llm_load_print_meta")
# Without a level prefix: messages that say something failed.
_ERROR_TEXT: Final = r"(?i)\berror\b|\bfailed to load\b|\bunable to load\b"

_TIMINGS: Final = {
    "prompt_eval_ms": r"prompt eval time\s+=\s+([\d.]+) ms",
    "prompt_tokens_processed": r"prompt eval time\s+=\s+[\d.]+ ms /\s+(\d+) tokens",
    "prompt_tokens_per_second": r"prompt eval time\s+=.*?,\s+([\d.]+|inf|-?nan) tokens per second",
    "eval_ms": r"(?m)(?:^|\||generation)\s*eval time\s+=\s+([\d.]+) ms",
    "eval_tokens": r"(?m)(?:^|\||generation)\s*eval time\s+=\s+[\d.]+ ms /\s+(\d+) (?:tokens|runs)",
    "tokens_per_second": (
        r"(?m)(?:^|\||generation)\s*eval time\s+=.*?,\s+([\d.]+|inf|-?nan) tokens per second"
    ),
    "total_ms": r"total time\s+=\s+([\d.]+) ms",
    "graphs_reused": r"graphs reused\s+=\s+(\d+)",
    "draft_acceptance": r"draft acceptance(?: rate)?\s+=\s+([\d.]+)",
}

_EVENT_TYPE: Final = {
    "access": "http.response",
    "request": "inference.request",
    "response": "inference.response",
    "error": "inference.error",
    "ready": "server.start",
    "deploy": "deploy.change",
    "log": "server.log",
}


def _x(name: str) -> pl.Expr:
    return pl.col(f"x_{name}")


def skipped_start(work: pl.DataFrame) -> pl.Expr:
    """True on the first line of a record that only dumps model metadata (GGUF key/value and
    tensor-type lines, the model-info printout except ``general.name``); warnings and errors
    are kept."""
    comp = pl.col("comp")
    cmsg = pl.col("cmsg").fill_null("")
    quiet = pl.col("lvl").is_null() | pl.col("lvl").is_in(["I", "D"])
    loader = (comp == "llama_model_loader") & cmsg.str.contains(
        r"^(?:- kv|- type|Dumping metadata)"
    )
    info = comp.is_in(list(_MODEL_INFO)) & ~cmsg.str.contains(_GENERAL_NAME)
    return ((loader | info) & quiet).fill_null(False)


def _json_fields(bodies: pl.Series) -> pl.DataFrame:
    """The :data:`_FIELDS` of the 2024 JSON lines ``bodies`` (one decode for all fields)."""
    decoded = decode_paths(bodies, [key_path(f) for f in _FIELDS])
    return decoded.select([jp(key_path(f)).alias(f) for f in _FIELDS])


def _legacy_fields(kv: pl.Series) -> pl.DataFrame:
    """The :data:`_FIELDS` of the 2024 text lines' ``key=value`` tails ``kv``; each key's regex
    runs on the rows holding ``key=`` (null input elsewhere: no work)."""
    text = pl.col("_kv")
    return (
        kv.alias("_kv")
        .to_frame()
        .select(
            logfmt.value(pl.when(text.str.contains(f"{f}=", literal=True)).then(text), f).alias(f)
            for f in _FIELDS
        )
    )


def _fields(df: pl.DataFrame) -> pl.DataFrame:
    """``x_<field>`` columns of the 2024 JSON and text lines (null elsewhere).

    Decoded and extracted on those rows only and spread back (the other rows hold no fields)."""
    shape = df.get_column("shape")
    is_json = (shape == "json").fill_null(False)
    is_legacy = (shape == "legacy").fill_null(False)
    n_json = int(is_json.sum())
    n_legacy = int(is_legacy.sum())
    if n_json + n_legacy == 0:
        return df.with_columns(pl.lit(None, dtype=pl.String).alias(f"x_{f}") for f in _FIELDS)
    parts = []
    if n_json:
        parts.append(_json_fields(df.get_column("body").filter(is_json)))
    if n_legacy:
        parts.append(_legacy_fields(df.get_column("okv").filter(is_legacy)))
    # the JSON rows' values, then the text rows': one gather puts every row's at its place
    values = pl.concat(parts, how="vertical_relaxed") if len(parts) > 1 else parts[0]
    pos = pl.select(
        pl.when(is_json)
        .then(is_json.cast(pl.UInt32).cum_sum() - 1)
        .when(is_legacy)
        .then(is_legacy.cast(pl.UInt32).cum_sum() - 1 + n_json)
        .alias("_pos")
    ).get_column("_pos")
    placed = values.select(pl.all().cast(pl.String).gather(pos).name.prefix("x_"))
    return pl.concat([df, placed], how="horizontal")


def _texts(df: pl.DataFrame) -> pl.DataFrame:
    """The message (``text``), its level, the function or component and the slot / task ids."""
    shape = pl.col("shape")
    text = (
        pl.when(shape.is_in(["server", "timing_b"]) & pl.col("slot").is_not_null())
        .then(pl.col("slmsg"))
        .when(shape.is_in(["server", "timing_b"]))
        .then(pl.col("smsg"))
        .when(shape == "component")
        .then(pl.col("cmsg"))
        .when(shape == "json")
        .then(pl.coalesce(_x("msg"), _x("message")))
        .when(shape == "legacy")
        .then(pl.col("omsg"))
        .otherwise(pl.col("body"))
    )
    explicit = pl.coalesce(
        shapes.level(pl.col("lvl")), shapes.level(pl.col("olevel")), shapes.level(_x("level"))
    )
    task = pl.coalesce("task", _x("id_task"), _x("task_id"))
    slot = pl.coalesce("slot", _x("id_slot"), _x("slot_id"))
    df = df.with_columns(
        text.alias("text"),
        pl.coalesce("func", "comp", _x("function"), pl.col("ofunc").str.strip_chars()).alias(
            "component"
        ),
        nullify(task, ("-1", "")).alias("task_id"),
        nullify(slot, ("-1", "")).alias("slot_id"),
    )
    inferred = pl.when(pl.col("text").str.contains(_ERROR_TEXT)).then(pl.lit("ERROR"))
    return df.with_columns(
        pl.when(explicit.is_not_null()).then(explicit).otherwise(inferred).alias("severity")
    )


def _classify(df: pl.DataFrame) -> pl.DataFrame:
    """Message fields and the kind of every record (``mkind``)."""
    t = pl.col("text").fill_null("")
    shape = pl.col("shape")
    access_text = pl.when(shape == "component").then(pl.col("body")).otherwise(t)
    timing_text = pl.concat_str(
        [t, pl.col("cont_lines").list.join("\n")], separator="\n", ignore_nulls=True
    )
    df = df.with_columns(
        access_text.str.extract_groups(_ACCESS).alias("_a"),
        t.str.extract_groups(_NEW_PROMPT).alias("_n"),
        t.str.extract_groups(_RELEASE).alias("_r"),
        t.str.extract_groups(_META_FROM).alias("_m"),
        t.str.extract_groups(_LOADING).alias("_l"),
        t.str.extract_groups(_LISTEN).alias("_h"),
        t.str.extract_groups(_SEND_ERROR).alias("_e"),
        pl.when(pl.col("comp") == "build").then(t).str.extract_groups(_BUILD).alias("_b"),
    ).unnest("_a", "_n", "_r", "_m", "_l", "_h", "_e", "_b")
    timed = (pl.col("component") == "print_timing") | t.str.contains(
        r"eval time\s+=|total time\s+="
    )
    # the timing fields: read on timing lines only
    df = on_rows(
        df, timed, {name: timing_text.str.extract(pattern, 1) for name, pattern in _TIMINGS.items()}
    )
    general_name = pl.when(pl.col("comp").is_in(list(_MODEL_INFO))).then(
        t.str.extract(_GENERAL_NAME, 1).str.strip_chars()
    )
    access = pl.col("a_method").is_not_null() | ((t == "request") & _x("method").is_not_null())
    cases: list[tuple[pl.Expr, str]] = [
        (access, "access"),
        (t.str.contains(r"^(?:slot is )?processing task"), "request"),
        (pl.col("total_ms").is_not_null(), "response"),
        (
            pl.col("severity").is_in(["ERROR", "FATAL"]) | (pl.col("component") == "send_error"),
            "error",
        ),
        (t == "model loaded", "ready"),
        (general_name.is_not_null(), "deploy"),
    ]
    kind: pl.Expr = pl.lit("log")
    for cond, name in reversed(cases):
        kind = pl.when(cond.fill_null(False)).then(pl.lit(name)).otherwise(kind)
    return df.with_columns(kind.alias("mkind"), general_name.alias("general_name"))


def _time_columns(df: pl.DataFrame, timezone: str) -> pl.DataFrame:
    wall = parse_pattern(pl.col("wall"), "%Y-%m-%d %H:%M:%S%.f", timezone)
    epoch = parse_epoch(_x("timestamp"), "epoch_s")
    epoch_ts = pl.when(_x("timestamp").is_not_null()).then(epoch.ts)
    return df.with_columns(
        pl.coalesce(wall.ts, epoch_ts).alias("ts_source"),
        pl.coalesce("wall", _x("timestamp")).alias("ts_raw"),
        pl.coalesce(wall.assumed_tz, pl.when(epoch_ts.is_not_null()).then(False)).alias(
            "ts_assumed_tz"
        ),
    )


def semantic_columns(starts: pl.DataFrame, timezone: str) -> pl.DataFrame:
    """Canonical columns for the record starts (``cont_lines``: the merged lines)."""
    df = _classify(_texts(_fields(starts)))
    df = _time_columns(df, timezone)
    mkind = pl.col("mkind")
    t = pl.col("text")
    access = mkind == "access"
    status_code = pl.when(access).then(
        pl.coalesce("a_status", _x("status")).cast(pl.Int64, strict=False)
    )
    timing_record = pl.col("prompt_eval_ms").is_not_null() | pl.col("total_ms").is_not_null()
    detail = pl.when((pl.col("cont_lines").list.len() > 0) & ~timing_record).then(
        pl.col("cont_lines").list.join("\n")
    )
    attrs = {
        "component": pl.col("component"),
        "log_group": pl.col("grp").str.strip_chars(),
        "slot_id": pl.col("slot_id"),
        "task_id": pl.coalesce("task_id", "e_task"),
        "child_port": pl.col("child_port"),
        "uptime": pl.col("uptime"),
        "thread_id": _x("tid"),
        "code_line": _x("line"),
        "client_port": pl.when(access).then(_x("remote_port")),
        "n_ctx_slot": pl.coalesce("n_ctx_slot", _x("n_ctx_slot")),
        "n_keep": pl.col("n_keep"),
        "n_past": pl.coalesce("r_past", _x("n_past")),
        "truncated": pl.coalesce("r_trunc", _x("truncated")),
        "n_slots": _x("n_slots"),
        "listen_url": pl.col("url"),
        "listen_host": pl.coalesce("h_host", _x("hostname")),
        "listen_port": pl.coalesce("h_port", pl.when(~access).then(_x("port"))),
        "llama_cpp_build": pl.coalesce("b_build", _x("build")),
        "commit": pl.coalesce("b_commit", _x("commit")),
        "model_path": pl.coalesce("m_path", "l_path", _x("model")),
        "gguf_version": pl.col("m_gguf"),
        "error_detail": _x("error"),
        **{name: pl.col(name) for name in _TIMINGS if name != "total_ms"},
        "detail": detail,
    }
    df = df.with_columns(kv_column(df, attrs, name="all_attrs"))
    first_cont = pl.col("cont_lines").list.first()
    # Debug dumps of request / response bodies and streamed chunks carry prompts and
    # completions: the message keeps only what they are.
    body_dump = (
        pl.when(pl.col("shape") == "component").then(pl.col("body")).otherwise(t)
    ).str.extract(_BODY_DUMP, 1)
    message = (
        pl.when(timing_record & (t.fill_null("").str.strip_chars() == ""))
        .then(first_cont)
        .when(~access & body_dump.is_not_null())
        .then(body_dump)
        .when(pl.col("shape") == "component")
        .then(pl.concat_str([pl.col("comp"), pl.lit(": "), t.fill_null("")]))
        .otherwise(t)
    )
    return df.select(
        "source_line",
        "ts_source",
        "ts_raw",
        "ts_assumed_tz",
        pl.lit("inference").alias("layer"),
        mkind.replace_strict(_EVENT_TYPE, default="server.log", return_dtype=pl.String).alias(
            "event_type"
        ),
        pl.col("severity"),
        pl.when(access)
        .then(http_status(status_code))
        .when(mkind == "response")
        .then(pl.lit("ok"))
        .when(mkind == "error")
        .then(pl.lit("error"))
        .alias("status"),
        status_code.alias("status_code"),
        nullify(message.str.strip_chars(), ("",)).alias("message"),
        pl.when(mkind == "response")
        .then(pl.col("total_ms").cast(pl.Float64, strict=False))
        .alias("duration_ms"),
        pl.when(access).then(pl.coalesce("a_method", _x("method"))).alias("http_method"),
        pl.when(access).then(pl.coalesce("a_path", _x("path"))).alias("http_route"),
        pl.when(access).then(pl.coalesce("a_addr", _x("remote_addr"))).alias("client_address"),
        pl.col("general_name").alias("model"),
        pl.lit("llama.cpp").alias("provider"),
        pl.col("n_prompt").cast(pl.Int64, strict=False).alias("input_tokens"),
        pl.when(mkind == "response")
        .then(pl.col("eval_tokens").cast(pl.Int64, strict=False))
        .alias("output_tokens"),
        pl.when(mkind == "response")
        .then(pl.col("prompt_eval_ms").cast(pl.Float64, strict=False))
        .alias("ttft_ms"),
        pl.col("all_attrs").alias("attributes"),
    )
