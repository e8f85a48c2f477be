"""Map Triton log records (one row per record start) onto canonical events.

Message texts are the ones written by ``triton-inference-server/core`` (``model_lifecycle.cc``,
``infer_request.cc``, ``server.cc``), ``server`` (``http_server.cc``, ``grpc/infer_handler.cc``,
``main.cc``) and ``python_backend`` (``python_be.cc``, ``pb_stub.cc``).
"""

from __future__ import annotations

from typing import Final

import polars as pl

from parsers.inference.triton import lines as shapes
from timeline.parserkit.frame import http_status
from timeline.parserkit.ids import id_list
from timeline.parserkit.kv import kv_column, kv_list
from timeline.parserkit.text import nullify, on_rows
from timeline.parserkit.tracebacks import last_exception_type

# `[request id: <id>] ` before request-scoped messages (InferenceRequest::LogRequest).
REQUEST_PREFIX: Final = r"^\[request id: ([^\]]*)\] "
# `[request id: X] prepared: [0x..] request id: X, model: M, requested version: -1, actual
# version: 1, flags: 0x0, correlation id: 0, batch size: 1, priority: 0, timeout (us): 0`.
PREPARED: Final = (
    r"prepared: \[0x[0-9a-fA-Fx]+\] request id: (?P<rid>.*?), model: (?P<model>.*?), "
    r"requested version: (?P<requested>-?\d+), actual version: (?P<actual>-?\d+)"
    r"(?:, flags: (?P<flags>0x[0-9a-fA-F]+))?(?:, correlation id: (?P<corr>[^,]*))?"
    r"(?:, batch size: (?P<batch>\d+))?(?:, priority: (?P<prio>\d+))?"
    r"(?:, timeout \(us\): (?P<timeout>\d+))?"
)
STATE: Final = r"Setting state from (?P<from>\w+) to (?P<to>\w+)$"
INFER_FAILED: Final = r"^(?:\[request id: [^\]]*\] )?Infer failed: "
# HTTPAPIServer::Handle: `HTTP request: <evhtp method enum> <path>`; `HTTP error: ... - 404`.
HTTP_REQUEST: Final = r"^HTTP request: (?P<method>\d+) (?P<path>\S+)$"
HTTP_ERROR: Final = r"^HTTP error: (?P<method>\d+) (?P<path>\S+) - (?P<code>\d{3})$"
# libevhtp's `enum htp_method`.
HTP_METHODS: Final = {
    "0": "GET",
    "1": "HEAD",
    "2": "POST",
    "3": "PUT",
    "4": "DELETE",
    "5": "MKCOL",
    "6": "COPY",
    "7": "MOVE",
    "8": "OPTIONS",
    "9": "PROPFIND",
    "10": "PROPPATCH",
    "11": "LOCK",
    "12": "UNLOCK",
    "13": "TRACE",
    "14": "CONNECT",
    "15": "PATCH",
}
# KServe v2 routes (`/v2/models/NAME[/versions/N][/infer|ready|config|...]`) and v1 `/api/infer/NAME[/N]`.
V2_PATH: Final = (
    r"^/v2/models/(?P<model>[^/]+)(?:/versions/(?P<version>\d+))?(?:/(?P<api>[\w]+))?/?$"
)
V1_PATH: Final = r"^/api/(?P<api>infer|status)/(?P<model>[^/]+)(?:/(?P<version>\d+))?/?$"
LOAD_ACTION: Final = r"^(?P<act>re-loading|loading|unloading): (?P<model>.+):(?P<version>-?\d+)$"
LOADED: Final = (
    r"^successfully (?P<act>loaded|unloaded) '(?P<model>[^']+)'(?: version (?P<version>\d+))?$"
)
LOAD_FAILED: Final = r"^failed to load '(?P<model>[^']+)'(?: version (?P<version>\d+))?(?::|$)"
LOAD_FAILED_MODEL: Final = r"^failed to load model '(?P<model>[^']+)'"
BACKEND_INIT: Final = (
    r"^TRITONBACKEND_ModelInitialize: (?P<model>\S+) \(version (?P<version>\d+)\)$"
)
INSTANCE_INIT: Final = r"^TRITONBACKEND_ModelInstanceInitialize: (?P<instance>\S+) \((?P<kind>\w+) device (?P<device>\d+)\)$"
EXECUTING: Final = (
    r"^model (?P<model>\S+), instance (?P<instance>\S+), executing (?P<count>\d+) requests?$"
)
INFLIGHT: Final = (
    r"^Model '(?P<model>[^']+)' \(version (?P<version>\d+)\) has (?P<count>\d+) in-flight"
)
NOT_READY: Final = r"^Model '(?P<model>[^']+)' version (?P<version>\d+) "
LIVE: Final = (
    r"^(?P<model>\S+) v(?P<version>\d+): (?P<state>UNKNOWN|READY|UNAVAILABLE|LOADING|UNLOADING)$"
)
STARTED: Final = (
    r"^Started (?P<service>GRPCInferenceService|HTTPService|Metrics Service|Sagemaker HTTPService"
    r"|Vertex AI HTTPService) at (?P<address>\S+)$"
)
PB_FAILED: Final = r"^Failed to process the request\(s\) for model '(?P<instance>[^']+)', message: "
GRPC: Final = (
    r"^(?:New request handler for (?P<h1>\w+), (?P<id1>\d+)"
    r"|Process for (?P<h2>\w+), rpc_ok=(?P<ok>\d+), (?P<id2>\d+) step (?P<s2>\w+)"
    r"|(?P<h3>\w+)::InferResponseComplete, (?P<id3>\d+) step (?P<s3>\w+)"
    r"|Done for (?P<h4>\w+), (?P<id4>\d+))$"
)
# The model named by a config dump: protobuf `name: "x"` or pretty JSON `"name": "x"`.
CONFIG_NAME: Final = r'(?i)\bconfig(?:uration)?:\s*(?:\{\s*)?"?name"?: "([^"]+)"'
# An exception class named inside a line (`..., message: TypeError: bad operand`).
INLINE_EXCEPTION: Final = (
    r"(?:^|: )((?:[A-Za-z_]\w*\.)*[A-Z]\w*(?:Error|Exception|Exit|Interrupt|Failure|Fault"
    r"|Timeout))(?::|$)"
)

_EVENT_TYPE: Final = {
    "traceback": "inference.error",
    "exit": "inference.error",
    "prepared": "inference.request",
    "state": "server.log",
    "infer_failed": "inference.error",
    "http_request": "http.request",
    "http_error": "http.response",
    "load_action": "deploy.change",
    "loaded": "deploy.change",
    "load_failed": "inference.error",
    "started": "server.start",
    "pb_failed": "inference.error",
    "error": "inference.error",
    "log": "server.log",
}
_ERROR_KINDS: Final = ("traceback", "exit", "infer_failed", "load_failed", "pb_failed", "error")


# Every message shape whose groups are read, extracted once per record as a struct column.
_GROUPS: Final = {
    "prepared": PREPARED,
    "state": STATE,
    "http_request": HTTP_REQUEST,
    "http_error": HTTP_ERROR,
    "load_action": LOAD_ACTION,
    "loaded": LOADED,
    "load_failed": LOAD_FAILED,
    "load_failed_model": LOAD_FAILED_MODEL,
    "backend_init": BACKEND_INIT,
    "instance_init": INSTANCE_INIT,
    "executing": EXECUTING,
    "inflight": INFLIGHT,
    "not_ready": NOT_READY,
    "live": LIVE,
    "started": STARTED,
    "pb_failed": PB_FAILED,
    "grpc": GRPC,
}


def _g(shape: str, field: str) -> pl.Expr:
    """A named group of a message shape (null when the shape does not match)."""
    return pl.col(f"g_{shape}").struct.field(field)


def _message_kind(head: pl.Expr) -> pl.Expr:
    shape = pl.col("shape")
    cases: list[tuple[pl.Expr, str]] = [
        (shape == "tb_start", "traceback"),
        (shape == "exit", "exit"),
        (_g("prepared", "model").is_not_null(), "prepared"),
        (head.str.starts_with("[request id: ") & _g("state", "to").is_not_null(), "state"),
        (head.str.contains(INFER_FAILED), "infer_failed"),
        (_g("http_request", "path").is_not_null(), "http_request"),
        (_g("http_error", "path").is_not_null(), "http_error"),
        (_g("load_action", "model").is_not_null(), "load_action"),
        (_g("loaded", "model").is_not_null(), "loaded"),
        (
            _g("load_failed", "model").is_not_null()
            | _g("load_failed_model", "model").is_not_null(),
            "load_failed",
        ),
        (_g("started", "service").is_not_null(), "started"),
        (_g("pb_failed", "instance").is_not_null(), "pb_failed"),
        (pl.col("severity").is_in(["ERROR", "FATAL"]), "error"),
    ]
    expr: pl.Expr = pl.lit("log")
    for cond, name in reversed(cases):
        expr = pl.when(cond).then(pl.lit(name)).otherwise(expr)
    return expr


def _snake(code: pl.Expr) -> pl.Expr:
    return code.str.to_lowercase().str.replace_all(r"[^a-z0-9]+", "_")


def _model_columns(text: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """Model name and version from every message shape that names them."""
    sources = [
        "load_action",
        "loaded",
        "load_failed",
        "backend_init",
        "inflight",
        "not_ready",
        "live",
    ]
    model = pl.coalesce(
        _g("prepared", "model"),
        *[_g(name, "model") for name in sources],
        _g("load_failed_model", "model"),
        _g("executing", "model"),
        text.str.extract(CONFIG_NAME, 1),
        _g("v2_path", "model"),
        _g("v1_path", "model"),
    )
    version = pl.coalesce(
        _g("prepared", "actual"),
        *[_g(name, "version") for name in sources],
        _g("v2_path", "version"),
        _g("v1_path", "version"),
    )
    return nullify(model), nullify(version, ("", "-1"))


def _dump_columns(text: pl.Expr) -> dict[str, pl.Expr]:
    """Inputs and requested outputs listed by a `prepared:` request dump."""
    inputs = text.str.extract(r"(?s)original inputs:\n(.*?)\noverride inputs:", 1)
    names = inputs.str.extract_all(r"input: ([^,\s]+), type:").list.eval(
        pl.element().str.extract(r"input: ([^,\s]+),", 1)
    )
    outputs = text.str.extract(r"(?s)\nrequested outputs:\n(.*)$", 1).str.split("\n")
    outputs = outputs.list.eval(pl.element().str.strip_chars()).list.eval(
        pl.element().filter(pl.element() != "")
    )
    return {
        "inputs": nullify(names.list.join(",")),
        "requested_outputs": nullify(outputs.list.join(",")),
    }


def _status_code(head: pl.Expr) -> pl.Expr:
    """The Triton status code: FAIL_IF_ERR's `error: what: Code - msg`, else `Code: msg`."""
    return pl.coalesce(
        pl.when(pl.col("shape") == "exit").then(
            pl.col("clean").str.extract_groups(shapes.EXIT).struct.field("ecode")
        ),
        head.str.extract(shapes.STATUS_CODE, 1),
    )


def _error_type(head: pl.Expr, rest: pl.Expr) -> pl.Expr:
    """The Python exception a traceback ends with, else one named in the message, else the
    Triton status code (``Internal`` -> ``internal``)."""
    return pl.coalesce(
        last_exception_type(rest),
        head.str.extract(INLINE_EXCEPTION, 1),
        _snake(pl.col("triton_code")),
    )


def _with_groups(df: pl.DataFrame) -> pl.DataFrame:
    """``head`` (first line), ``rest`` (the other non-blank lines), one struct per shape."""
    parts = pl.col("text").str.split("\n")
    df = df.with_columns(
        parts.list.first().alias("head"),
        parts.list.slice(1)
        .list.eval(pl.element().filter(pl.element().str.strip_chars() != ""))
        .alias("rest"),
    )
    head = pl.col("head")
    df = df.with_columns(
        *[head.str.extract_groups(p).alias(f"g_{name}") for name, p in _GROUPS.items()],
        _status_code(head).alias("triton_code"),
    )
    path = pl.coalesce(_g("http_request", "path"), _g("http_error", "path"))
    return df.with_columns(
        path.alias("http_path"),
        path.str.extract_groups(V2_PATH).alias("g_v2_path"),
        path.str.extract_groups(V1_PATH).alias("g_v1_path"),
        _message_kind(head).alias("mkind"),
    )


def semantic_columns(df: pl.DataFrame) -> pl.DataFrame:
    """Canonical columns for the non-table records (``text``: the record's whole message)."""
    df = _with_groups(df)
    text = pl.col("text")
    head = pl.col("head")
    rest = pl.col("rest")
    mkind = pl.col("mkind")
    model, version = _model_columns(text)
    rid = pl.coalesce(head.str.extract(REQUEST_PREFIX, 1), _g("prepared", "rid"))
    rid = nullify(rid.str.strip_chars(), ("", "<id_unknown>"))
    to_state = _g("state", "to")
    event_type = mkind.replace_strict(_EVENT_TYPE, default="server.log", return_dtype=pl.String)
    event_type = (
        pl.when((mkind == "state") & (to_state == "RELEASED"))
        .then(pl.lit("inference.response"))
        .when((mkind == "load_failed") & ~pl.col("severity").is_in(["ERROR", "FATAL"]))
        .then(pl.lit("deploy.change"))
        .otherwise(event_type)
    )
    http_code = _g("http_error", "code").cast(pl.Int64, strict=False)
    method_code = pl.coalesce(_g("http_request", "method"), _g("http_error", "method"))
    method = method_code.replace_strict(HTP_METHODS, default=None, return_dtype=pl.String)
    status = (
        pl.when(mkind == "http_error")
        .then(http_status(http_code))
        .when(mkind == "loaded")
        .then(pl.lit("ok"))
        .when(mkind.is_in(_ERROR_KINDS))
        .then(pl.lit("error"))
    )
    is_error = mkind.is_in(_ERROR_KINDS)
    traceback_like = rest.list.eval(
        pl.element().str.contains(
            f'{shapes.TRACEBACK_START}|{shapes.AT}|^[ \\t]+File "|^[ \\t]+\\S.*\\(\\d+\\): '
        )
    ).list.any()
    detail = pl.when(rest.list.len() > 0).then(rest.list.join("\n"))
    code = pl.when(pl.col("file").is_not_null()).then(
        pl.concat_str(["file", "lineno"], separator=":")
    )
    action = pl.coalesce(
        _g("load_action", "act"),
        _g("loaded", "act"),
        pl.when(mkind == "load_failed").then(pl.lit("load_failed")),
    )
    prepared = mkind == "prepared"
    # the request dump's lists: read on `prepared:` records only
    df = on_rows(df, prepared, {f"_dump_{k}": v for k, v in _dump_columns(text).items()})
    attrs = kv_column(
        df,
        {
            "code": code,
            "pid": pl.col("pid"),
            "model_action": action,
            "requested_version": _g("prepared", "requested"),
            "batch_size": _g("prepared", "batch"),
            "correlation_id": nullify(_g("prepared", "corr"), ("", "0")),
            "priority": _g("prepared", "prio"),
            "timeout_us": _g("prepared", "timeout"),
            "request_flags": _g("prepared", "flags"),
            "inputs": pl.col("_dump_inputs"),
            "requested_outputs": pl.col("_dump_requested_outputs"),
            "request_state_from": _g("state", "from"),
            "request_state_to": to_state,
            "model_instance": pl.coalesce(
                _g("instance_init", "instance"),
                _g("executing", "instance"),
                _g("pb_failed", "instance"),
            ),
            "device_kind": _g("instance_init", "kind"),
            "device_id": _g("instance_init", "device"),
            "request_count": pl.coalesce(_g("executing", "count"), _g("inflight", "count")),
            "model_state": _g("live", "state"),
            "http_method_code": pl.when(method.is_null()).then(method_code),
            "triton_api": pl.coalesce(_g("v2_path", "api"), _g("v1_path", "api")),
            "service": _g("started", "service"),
            "listen_address": _g("started", "address"),
            "grpc_handler": pl.coalesce(*[_g("grpc", f"h{i}") for i in range(1, 5)]),
            "grpc_state_id": pl.coalesce(*[_g("grpc", f"id{i}") for i in range(1, 5)]),
            "grpc_step": pl.coalesce(_g("grpc", "s2"), _g("grpc", "s3")),
            "grpc_rpc_ok": _g("grpc", "ok"),
            "triton_error_code": pl.col("triton_code"),
            "failed_step": pl.when(pl.col("shape") == "exit").then(
                pl.col("clean").str.extract_groups(shapes.EXIT).struct.field("ewhat")
            ),
            "traceback": pl.when(traceback_like).then(detail),
            "detail": pl.when(~traceback_like & ~prepared).then(detail),
        },
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
        pl.when(mkind == "http_error").then(http_code).alias("status_code"),
        pl.when(is_error | (mkind == "load_failed"))
        .then(_error_type(head, rest))
        .alias("error_type"),
        head.alias("message"),
        rid.alias("request_id"),
        id_list({"triton_request_id": rid}).alias("ids"),
        method.alias("http_method"),
        pl.col("http_path").alias("http_route"),
        model.alias("model"),
        version.alias("model_revision"),
        pl.lit("triton").alias("provider"),
        pl.lit(attrs).alias("attributes"),
    )


def table_columns(df: pl.DataFrame) -> pl.DataFrame:
    """Canonical columns for table records (one row per model of a model table)."""
    state = pl.col("table_state")
    reason = pl.col("table_reason")
    unavailable = state.is_in(["UNAVAILABLE", "Not loaded"]) & (reason.fill_null("") != "unloaded")
    reason_lines = reason.str.split("\n")
    is_model = pl.col("table") == "models"
    code = pl.when(pl.col("file").is_not_null()).then(
        pl.concat_str(["file", "lineno"], separator=":")
    )
    error_type = pl.coalesce(
        last_exception_type(reason_lines.list.slice(1)),
        reason.str.extract(INLINE_EXCEPTION, 1),
        _snake(reason.str.extract(shapes.STATUS_CODE, 1)),
    )
    attrs = pl.concat_list(
        kv_list(
            {
                "code": code,
                "pid": pl.col("pid"),
                "table": pl.col("table"),
                "model_state": pl.when(is_model).then(state),
                "state_reason": pl.when(is_model).then(reason),
            }
        ),
        pl.col("table_attrs"),
    )
    return df.select(
        "source_line",
        "ts_source",
        "ts_raw",
        "ts_assumed_tz",
        pl.lit("inference").alias("layer"),
        pl.when(is_model)
        .then(pl.lit("deploy.change"))
        .when(pl.col("table") == "options")
        .then(pl.lit("server.start"))
        .otherwise(pl.lit("server.log"))
        .alias("event_type"),
        pl.col("severity"),
        pl.when(is_model & (state == "READY"))
        .then(pl.lit("ok"))
        .when(is_model & unavailable)
        .then(pl.lit("error"))
        .alias("status"),
        pl.when(is_model & unavailable).then(error_type).alias("error_type"),
        pl.col("table_message").alias("message"),
        pl.col("table_model").alias("model"),
        pl.col("table_version").alias("model_revision"),
        pl.lit("triton").alias("provider"),
        attrs.alias("attributes"),
    )
