"""LiteLLM proxy spend logs: rows of the ``LiteLLM_SpendLogs`` table (``SpendLogsPayload``).

One object per line (JSON lines), a pretty-printed object, or a JSON array of rows (as the
``/spend/logs`` API and database exports give them). ``metadata``, ``messages``, ``response``,
``request_tags`` and ``proxy_server_request`` are JSON encoded as strings (or plain JSON in API
output); ``startTime`` / ``endTime`` / ``completionStartTime`` carry no zone; ``cache_hit`` may be
the string ``"None"``.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from parsers.gateway._envoy import kept_keys, key_names, key_paths
from timeline.parserkit.api import ParseResult, Sample, Source
from timeline.parserkit.frame import first_reason, http_status
from timeline.parserkit.http import route
from timeline.parserkit.ids import id_list, is_openai_id
from timeline.parserkit.jsonpaths import jp, key_path
from timeline.parserkit.kv import attributes
from timeline.parserkit.records import read_records, sample_objects
from timeline.parserkit.text import clean, integer, number
from timeline.parserkit.timestamps import parse_iso8601

# SpendLogsPayload (litellm/proxy/_types.py) and the LiteLLM_SpendLogs table (schema.prisma).
FIELDS: Final = (
    "request_id",
    "call_type",
    "api_key",
    "spend",
    "total_tokens",
    "prompt_tokens",
    "completion_tokens",
    "startTime",
    "endTime",
    "completionStartTime",
    "model",
    "model_id",
    "model_group",
    "mcp_namespaced_tool_name",
    "agent_id",
    "api_base",
    "user",
    "metadata",
    "cache_hit",
    "cache_key",
    "request_tags",
    "team_id",
    "organization_id",
    "end_user",
    "requester_ip_address",
    "custom_llm_provider",
    "messages",
    "response",
    "proxy_server_request",
    "session_id",
    "status",
)
MARKERS: Final = ("request_id", "call_type", "spend", "startTime", "endTime", "api_key")
EMPTY_JSON: Final = ("{}", "[]", '""', "", "None", "null")


def _json_text(name: str) -> pl.Expr:
    """A JSON-in-string field, null when it is an empty object / list."""
    value = pl.col(name).str.strip_chars()
    return pl.when(~value.is_in(list(EMPTY_JSON))).then(value)


def _meta(path: str) -> pl.Expr:
    return clean(pl.col("metadata").str.json_path_match(path))


def _ms_between(start: pl.Expr, end: pl.Expr) -> pl.Expr:
    return (end - start).dt.total_microseconds().cast(pl.Float64) / 1000.0


class LiteLLMSpendLogParser:
    """LiteLLM proxy SpendLogs rows: one gateway event per LLM call, with model and tokens."""

    name = "litellm_spend_log"
    layer = "gateway"
    description = (
        "LiteLLM proxy spend log rows (SpendLogs table / API): JSON lines, object or array"
    )
    multiline = True
    # A line that always begins a record: the pipeline may feed the file in chunks cut before one.
    record_start = r"^\{"

    def sniff(self, sample: Sample) -> float:
        """Share of the sample's JSON records that look like SpendLogs rows."""
        objects = sample_objects(sample.lines)
        if objects:
            fits = sum(1 for o in objects if sum(1 for k in MARKERS if k in o) >= 4)
            return 0.95 * fits / len(objects)
        # A pretty-printed row longer than the sample: look for its keys.
        joined = "\n".join(sample.lines)
        found = sum(1 for k in MARKERS if f'"{k}"' in joined)
        return 0.8 if found >= 5 and joined.lstrip().startswith(("{", "[")) else 0.0

    def parse(self, source: Source) -> ParseResult:
        """Parse a whole file of SpendLogs rows."""
        names = key_names(source.lines.get_column("line"))
        paths = [key_path(k) for k in FIELDS]
        records = read_records(source.lines, paths + key_paths(names, FIELDS)).with_columns(
            *[jp(path).alias(key) for key, path in zip(FIELDS, paths, strict=True)]
        )
        tz = source.settings.timezone
        start = parse_iso8601(clean(pl.col("startTime")), tz)
        records = records.with_columns(
            start.ts.alias("_start"),
            start.assumed_tz.alias("_assumed"),
            parse_iso8601(clean(pl.col("endTime")), tz).ts.alias("_end"),
            parse_iso8601(clean(pl.col("completionStartTime")), tz).ts.alias("_first"),
        ).reject(
            first_reason(
                [
                    (pl.col("request_id").is_null(), "no request_id (not a SpendLogs row)"),
                    (clean(pl.col("startTime")).is_null(), "no startTime"),
                    (pl.col("_start").is_null(), "startTime is not a timestamp"),
                ]
            )
        )
        return records.result(records.frame.select(_events(kept_keys(names, FIELDS))))


def _events(kept: pl.Expr) -> list[pl.Expr]:
    request_id = clean(pl.col("request_id"))
    status_text = pl.coalesce(clean(pl.col("status")), _meta("$.status")).str.to_lowercase()
    error_code = integer(_meta("$.error_information.error_code"))
    failed = status_text.is_in(["failure", "failed", "error"])
    status = (
        pl.when(failed)
        .then(
            pl.coalesce(pl.when(error_code >= 400).then(http_status(error_code)), pl.lit("error"))
        )
        .when(status_text == "success")
        .then(pl.lit("ok"))
    )
    psr = _json_text("proxy_server_request")
    url = clean(psr.str.json_path_match("$.url"))
    response = _json_text("response")
    cache_hit = clean(pl.col("cache_hit")).str.to_lowercase()
    return [
        pl.col("source_line"),
        pl.col("_start").alias("ts_source"),
        clean(pl.col("startTime")).alias("ts_raw"),
        pl.col("_assumed").alias("ts_assumed_tz"),
        pl.lit("http.request").alias("event_type"),  # ts is startTime
        pl.when(failed)
        .then(pl.lit("ERROR"))
        .when(status.is_not_null())
        .then(pl.lit("INFO"))
        .alias("severity"),
        status.alias("status"),
        pl.when(failed).then(error_code).alias("status_code"),
        _meta("$.error_information.error_class").alias("error_type"),
        _meta("$.error_information.error_message").alias("message"),
        request_id.alias("request_id"),
        clean(pl.col("session_id")).alias("session_id"),
        pl.coalesce(
            clean(pl.col("end_user")), clean(pl.col("user")), _meta("$.user_api_key_user_id")
        ).alias("user_id"),
        clean(psr.str.json_path_match("$.method")).alias("http_method"),
        route(url).alias("http_route"),
        pl.coalesce(clean(pl.col("requester_ip_address")), _meta("$.requester_ip_address")).alias(
            "client_address"
        ),
        clean(pl.col("api_base")).alias("upstream"),
        _ms_between(pl.col("_start"), pl.col("_end")).alias("duration_ms"),
        clean(pl.col("model")).alias("model"),
        clean(pl.col("custom_llm_provider")).alias("provider"),
        integer(pl.col("prompt_tokens")).alias("input_tokens"),
        integer(pl.col("completion_tokens")).alias("output_tokens"),
        _ms_between(pl.col("_start"), pl.col("_first")).alias("ttft_ms"),
        clean(response.str.json_path_match("$.choices[0].finish_reason")).alias("finish_reason"),
        _json_text("messages").alias("prompt_text"),
        pl.coalesce(
            clean(response.str.json_path_match("$.choices[0].message.content")), response
        ).alias("completion_text"),
        id_list(
            {
                "chatcmpl_id": pl.when(is_openai_id(request_id)).then(request_id),
                "litellm_call_id": pl.when(~is_openai_id(request_id)).then(request_id),
                "x_request_id": clean(psr.str.json_path_match("$.headers['x-request-id']")),
            }
        ).alias("ids"),
        attributes(
            {
                "call_type": pl.col("call_type"),
                "spend": number(pl.col("spend")),
                "total_tokens": pl.col("total_tokens"),
                "model_id": pl.col("model_id"),
                "model_group": pl.col("model_group"),
                "api_key": pl.col("api_key"),
                "key_alias": _meta("$.user_api_key_alias"),
                "team_id": pl.coalesce(clean(pl.col("team_id")), _meta("$.user_api_key_team_id")),
                "team_alias": _meta("$.user_api_key_team_alias"),
                "organization_id": pl.coalesce(
                    clean(pl.col("organization_id")), _meta("$.user_api_key_org_id")
                ),
                "cache_hit": pl.when(cache_hit.is_in(["true", "false"])).then(cache_hit),
                "cache_key": pl.when(clean(pl.col("cache_key")) != "Cache OFF").then(
                    pl.col("cache_key")
                ),
                "request_tags": _json_text("request_tags"),
                "applied_guardrails": pl.when(_meta("$.applied_guardrails") != "[]").then(
                    _meta("$.applied_guardrails")
                ),
                "user_agent": _meta("$.user_agent"),
                "mcp_tool": pl.col("mcp_namespaced_tool_name"),
                "agent_id": pl.col("agent_id"),
                "llm_provider_error": _meta("$.error_information.llm_provider"),
            },
            kept,
        ).alias("attributes"),
    ]
