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

from parsers.gateway._envoy import FIELDS, envoy_events
from parsers.gateway._jsonbase import finish, read_records
from parsers.gateway._jsonrec import sniff_objects
from timeline.parserkit.api import ParseResult, Sample, Source
from timeline.parserkit.frame import first_reason
from timeline.parserkit.timestamps import parse_iso8601

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
        objects = sniff_objects(sample.lines)
        if not objects:
            return 0.0
        fits = sum(
            1 for obj in objects if "start_time" in obj and sum(1 for k in MARKERS if k in obj) >= 2
        )
        return 0.95 * fits / len(objects)

    def parse(self, source: Source) -> ParseResult:
        """Parse a whole file of Envoy JSON records."""
        records = read_records(source.lines, FIELDS, repair_dashes=True)
        ts = parse_iso8601(pl.col("start_time").str.strip_chars()).ts
        frame = records.frame.with_columns(
            first_reason(
                [
                    (pl.col("start_time").is_null(), "no start_time"),
                    (ts.is_null(), "start_time is not ISO 8601"),
                ]
            ).alias("_reason")
        )
        return finish(records, frame, envoy_events(source.settings.timezone))
