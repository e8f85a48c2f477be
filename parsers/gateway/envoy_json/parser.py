"""Envoy / Istio access logs as JSON: ``json_format`` lines and TEXT-encoded JSON templates.

Istio's ``accessLogEncoding: JSON`` writes one object per line with its default keys
(``start_time``, ``method``, ``path``, ``response_code``, ``response_flags``, ``request_id``,
``upstream_cluster``, ``upstream_host`` ...) in random order; numbers are numbers and missing
values are ``null``. A TEXT format string that looks like JSON gives quoted numbers and ``"-"``,
may leave a bare ``-`` where a number was unquoted, and may span several lines per record.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from parsers.gateway._envoy import FIELDS, envoy_frame, key_names, key_paths, start_times
from timeline.parserkit.api import ParseResult, Sample, Source
from timeline.parserkit.frame import first_reason
from timeline.parserkit.jsonpaths import decode_paths, jp, key_path
from timeline.parserkit.records import read_records, sample_objects
from timeline.parserkit.text import clean, integer, number

# Keys that, besides start_time, mark an Envoy access-log record.
MARKERS: Final = (
    "response_code",
    "response_flags",
    "upstream_cluster",
    "upstream_host",
    "downstream_remote_address",
    "bytes_received",
    "upstream_service_time",
)


# AI gateways' keys, first present wins. Envoy AI Gateway (examples/access-log: its dynamic
# metadata `io.envoy.ai_gateway:*` under OpenTelemetry GenAI names, or under the metadata names);
# Higress ai-statistics (older releases: `model` / `input_token` / `output_token` at the top level).
SERVED_MODEL: Final = ("gen_ai.response.model", "response_model", "model_name_override")
REQUESTED_MODEL: Final = ("gen_ai.request.model", "request_model", "model")
PROVIDER: Final = ("gen_ai.provider.name", "backend_name", "backend", "provider")
INPUT_TOKENS: Final = (
    "gen_ai.usage.input_tokens",
    "input_tokens",
    "llm_input_token",
    "input_token",
    "prompt_tokens",
)
OUTPUT_TOKENS: Final = (
    "gen_ai.usage.output_tokens",
    "output_tokens",
    "llm_output_token",
    "output_token",
    "completion_tokens",
)
FIRST_TOKEN: Final = ("llm_first_token_duration",)
SESSION: Final = ("gen_ai.conversation.id", "session.id", "session_id")
AI_KEYS: Final = (
    *SERVED_MODEL,
    *REQUESTED_MODEL,
    *PROVIDER,
    *INPUT_TOKENS,
    *OUTPUT_TOKENS,
    *FIRST_TOKEN,
    *SESSION,
)
# Higress ai-statistics writes its statistics as a JSON string in `ai_log`
# (`%FILTER_STATE(wasm.ai_log:PLAIN)%`): model, input_token, output_token, llm_first_token_duration,
# llm_service_duration, response_type, cache_status ... Its other keys go to `ai_log.<key>`.
AI_LOG: Final = "ai_log"
AI_LOG_MAPPED: Final = ("model", "input_token", "output_token", "llm_first_token_duration")
MAPPED: Final = (*FIELDS, *AI_KEYS, AI_LOG)


def _first(keys: tuple[str, ...]) -> pl.Expr:
    return pl.coalesce([clean(pl.col(k)) for k in keys])


def _ai_log(frame: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, pl.Expr]]:
    """The frame plus Higress's ``ai_log`` statistics, decoded once per line: ``_ai.<key>``
    columns, and its other keys as ``ai_log.<key>`` attributes (their values)."""
    text = frame.get_column(AI_LOG)
    names = sorted({*AI_LOG_MAPPED, *key_names(text)})
    decoded = decode_paths(text, [key_path(k) for k in names])
    values = decoded.select([jp(key_path(k)).alias(f"_ai.{k}") for k in names])
    rest = {f"ai_log.{k}": clean(pl.col(f"_ai.{k}")) for k in names if k not in AI_LOG_MAPPED}
    return pl.concat([frame, values], how="horizontal"), rest


def _ai_fields() -> list[pl.Expr]:
    """Model, provider, tokens, first-token time and session of AI gateways' access logs."""
    requested = pl.coalesce(_first(REQUESTED_MODEL), clean(pl.col("_ai.model")))
    return [
        pl.coalesce(_first(SERVED_MODEL), requested).alias("model"),
        _first(PROVIDER).alias("provider"),
        integer(pl.coalesce(_first(INPUT_TOKENS), clean(pl.col("_ai.input_token")))).alias(
            "input_tokens"
        ),
        integer(pl.coalesce(_first(OUTPUT_TOKENS), clean(pl.col("_ai.output_token")))).alias(
            "output_tokens"
        ),
        number(
            pl.coalesce(_first(FIRST_TOKEN), clean(pl.col("_ai.llm_first_token_duration")))
        ).alias("ttft_ms"),
        _first(SESSION).alias("session_id"),
    ]


class EnvoyJsonParser:
    """Envoy / Istio JSON access logs (Istio's default keys), one line or several per record."""

    name = "envoy_json"
    layer = "gateway"
    description = "Envoy / Istio access log as JSON (json_format or TEXT-encoded JSON template)"
    multiline = True
    # A line that always begins a record: the pipeline may feed the file in chunks cut before one.
    record_start = r"^\{"

    def sniff(self, sample: Sample) -> float:
        """Share of the sample's JSON records that carry start_time and Envoy keys."""
        objects = sample_objects(sample.lines)
        if not objects:
            return 0.0
        fits = sum(
            1 for obj in objects if "start_time" in obj and sum(1 for k in MARKERS if k in obj) >= 2
        )
        return 0.95 * fits / len(objects)

    def parse(self, source: Source) -> ParseResult:
        """Parse a whole file of Envoy JSON records."""
        names = key_names(source.lines.get_column("line"))
        mapped = [k for k in MAPPED if k not in FIELDS]
        paths = [key_path(k) for k in (*FIELDS, *mapped)]
        records = read_records(
            source.lines, paths + key_paths(names, MAPPED), repair_dashes=True
        ).with_columns(*[jp(key_path(key)).alias(key) for key in (*FIELDS, *mapped)])
        times = start_times(records.frame.get_column("start_time"), source.settings.timezone)
        records = records.with_columns(
            *[pl.lit(times.get_column(c)).alias(f"_t.{c}") for c in times.columns]
        ).reject(
            first_reason(
                [
                    (pl.col("start_time").is_null(), "no start_time"),
                    (pl.col("_t.ts_utc").is_null(), "start_time is not ISO 8601"),
                ]
            )
        )
        frame, ai_rest = _ai_log(records.frame)
        times = frame.select(pl.col(f"_t.{c}").alias(c) for c in times.columns)
        skip = set(MAPPED)
        served = _first(SERVED_MODEL)
        requested = pl.coalesce(_first(REQUESTED_MODEL), clean(pl.col("_ai.model")))
        more = {
            "request_model": clean(pl.when(served.is_not_null()).then(requested)),
            **ai_rest,
            **{k: clean(jp(key_path(k)).cast(pl.String)) for k in names if k not in skip},
        }
        return records.result(envoy_frame(frame, times, more, _ai_fields()))
