"""Correlation on hand-built canonical events: aliases, degenerate ids, heuristics, skew, order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from timeline.correlation.config import CorrelationConfig
from timeline.correlation.ids import normalize
from timeline.correlation.run import correlate
from timeline.schema import POLARS_SCHEMA, conform

T0 = datetime(2025, 3, 2, 10, 0, 0, tzinfo=UTC)


def ev(
    i: int,
    ms: float,
    layer: str,
    event_type: str,
    ids: list[tuple[str, str]],
    source: str,
    host: str | None = None,
    **fields: object,
) -> dict[str, object]:
    ts = T0 + timedelta(milliseconds=ms)
    return {
        "event_id": f"{source}:{i}:0",
        "source_file": source,
        "source_line": i,
        "host": host,
        "ts_source": ts,
        "ts": ts,
        "layer": layer,
        "event_type": event_type,
        "ids": [{"kind": k, "value": v} for k, v in ids],
        **fields,
    }


def frame(rows: list[dict[str, object]]) -> pl.DataFrame:
    schema = {k: v for k, v in POLARS_SCHEMA.items() if any(k in r for r in rows)}
    return conform(pl.DataFrame(rows, schema=schema))


def scenario(skew_ms: float = -3000.0) -> pl.DataFrame:
    rows = []
    for r in range(6):
        line = r + 1
        base = r * 10_000.0
        rid = f"req-{r:04d}"
        cmpl = f"chatcmpl-{r:04x}abcd"
        rows.append(
            ev(
                line,
                base,
                "gateway",
                "http.request",
                [("x_request_id", rid), ("session_id", "s-1")],
                "envoy.log",
                duration_ms=900.0,
                client_address=f"10.0.0.{r}",
                http_route="/v1/chat",
                status_code=200,
            )
        )
        rows.append(
            ev(
                line,
                base + 20,
                "policy",
                "policy.check",
                [("x_request_id", rid), ("trace_id", "-")],
                "guard.log",
                policy_stage="input",
                verdict="allow",
            )
        )
        rows.append(
            ev(
                line,
                base + 60 + skew_ms,
                "inference",
                "inference.request",
                [("chatcmpl_id", cmpl + "-0"), ("x_request_id", rid)],
                "vllm.log",
                host="vllm-0",
            )
        )
        rows.append(
            ev(
                line,
                base + 800 + skew_ms,
                "inference",
                "inference.response",
                [("chatcmpl_id", cmpl)],
                "vllm.log",
                host="vllm-0",
                duration_ms=740.0,
            )
        )
        rows.append(
            ev(
                line,
                base + 870,
                "policy",
                "policy.check",
                [("x_request_id", rid)],
                "guard.log",
                policy_stage="output",
                verdict="block" if r == 3 else "allow",
            )
        )
        rows.append(
            ev(
                line,
                base + 901,
                "gateway",
                "http.response",
                [],
                "nginx.log",
                client_address=f"10.0.0.{r}",
                http_route="/v1/chat",
                duration_ms=905.0,
                status_code=200,
            )
        )
    rows.append(
        ev(
            999,
            5,
            "inference",
            "deploy.change",
            [],
            "vllm.log",
            host="vllm-0",
            model="m",
            model_revision="v2",
        )
    )
    return frame(rows)


def test_ids_normalize_across_notations() -> None:
    cases = pl.DataFrame(
        {
            "kind": [
                "traceparent",
                "x_amzn_trace_id",
                "gcp_trace",
                "uber_trace_id",
                "trace_id",
                "chatcmpl_id",
                "x_request_id",
                "chatcmpl_id",
                "vllm_request_id",
                "x_request_id",
            ],
            "value": [
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                "Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=53995c3f42cd8ad8;Sampled=1",
                "projects/p/traces/4BF92F3577B34DA6A3CE929D0E0E4736",
                "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1",
                "4BF92F3577B34DA6A3CE929D0E0E4736",
                "chatcmpl-9f2ab-3",
                "chatcmpl-9f2ab-3",
                "chatcmpl-0123456789abcdef0123456789abcdef-5e6f7a8b",
                "chatcmpl-c219f6da-8a6c-4c30-8f0e-2bd2f6fa5b1e-1",
                "c219f6da-8a6c-4c30-8f0e-2bd2f6fa5b1e",
            ],
        }
    )
    nodes = cases.select(normalize(pl.col("kind"), pl.col("value"))).to_series().to_list()
    assert nodes[:5] == ["trace:4bf92f3577b34da6a3ce929d0e0e4736"] * 5
    assert nodes[5:7] == ["req:chatcmpl-9f2ab"] * 2
    assert nodes[7] == "req:chatcmpl-0123456789abcdef0123456789abcdef"
    assert nodes[8:] == ["req:c219f6da-8a6c-4c30-8f0e-2bd2f6fa5b1e"] * 2


def test_requests_are_components_of_the_id_graph() -> None:
    timeline, requests, report = correlate(scenario(), CorrelationConfig())
    assert report.requests == 6
    assert requests["events"].to_list() == [6] * 6
    per_request = (
        timeline.filter(pl.col("correlation_id").is_not_null())
        .group_by("correlation_id")
        .agg(pl.col("source_file").sort())
    )
    assert all(len(v) == 6 for v in per_request["source_file"].to_list())
    methods = dict(
        zip(
            *timeline.group_by("correlation_method").len().to_dict(as_series=False).values(),
            strict=True,
        )
    )
    assert methods == {"id": 24, "alias": 6, "heuristic": 6, "none": 1}
    assert report.global_events == 1
    assert [d["reason"] for d in report.degenerate_ids] == ["placeholder value"]


def test_heuristic_links_are_marked_with_confidence_below_one() -> None:
    timeline, _, report = correlate(scenario(), CorrelationConfig())
    linked = timeline.filter(pl.col("correlation_method") == "heuristic")
    assert linked["source_file"].unique().to_list() == ["nginx.log"]
    assert linked["correlation_confidence"].is_between(0.5, 0.9).all()
    rule = next(s for s in report.heuristics if s.rule == "client_route")
    assert (rule.orphans, rule.attached, rule.ambiguous) == (6, 6, 0)


def test_ambiguous_heuristic_matches_stay_unattached() -> None:
    events = scenario().with_columns(
        pl.when(pl.col("layer") == "gateway").then(pl.lit("10.9.9.9")).alias("client_address")
    )
    # Two requests 10 s apart; a window of 30 s makes every nginx line match several requests.
    from timeline.correlation.config import HeuristicRule

    config = CorrelationConfig(
        heuristics=(
            HeuristicRule(
                "client_route",
                ("client_address", "http_route"),
                30_000.0,
                ("gateway",),
                ("gateway",),
            ),
        )
    )
    timeline, _, report = correlate(events, config)
    assert report.heuristics[0].ambiguous == 6
    assert timeline.filter(pl.col("source_file") == "nginx.log")["correlation_id"].null_count() == 6


def test_skew_is_estimated_reported_and_corrected() -> None:
    timeline, _, report = correlate(scenario(-3000.0), CorrelationConfig())
    vllm = next(c for c in report.corrections if c.source == "vllm-0")
    assert vllm.applied
    assert vllm.bound_ms is not None
    assert abs(vllm.offset_ms - 3000.0) <= vllm.bound_ms
    assert report.violations_before == 6
    assert report.violations_after == 0
    inference = timeline.filter(pl.col("host") == "vllm-0")
    assert inference["clock_offset_ms"].unique().to_list() == [vllm.offset_ms]
    assert (inference["ts"] > inference["ts_source"]).all()


def test_no_correction_when_clocks_agree() -> None:
    _, _, report = correlate(scenario(0.0), CorrelationConfig())
    assert not any(c.applied for c in report.corrections)
    assert report.violations_before == 0


def test_order_is_causal_and_seq_counts_within_requests() -> None:
    timeline, _, _ = correlate(scenario(), CorrelationConfig())
    first = timeline.filter(pl.col("correlation_id") == timeline["correlation_id"].drop_nulls()[0])
    assert first["seq"].to_list() == list(range(6))
    assert first["layer"].to_list() == [
        "gateway",
        "policy",
        "inference",
        "inference",
        "policy",
        "gateway",
    ]
    assert first["offset_ms"][0] == 0.0
    assert first["offset_ms"].is_sorted()


def test_input_order_does_not_matter() -> None:
    events = scenario()
    a, _, _ = correlate(events, CorrelationConfig())
    b, _, _ = correlate(events.reverse(), CorrelationConfig())
    assert a.equals(b)


def test_bucketed_output_equals_the_in_memory_timeline(tmp_path: Path) -> None:
    import shutil

    from timeline.correlation.run import correlate_outdir
    from timeline.io.parquet import read_events
    from timeline.parse.registry import default_registry
    from timeline.pipeline.build import BuildOptions, build
    from timeline.scenarios.generate import write_scenario

    write_scenario("clock_skew_forwarded_ids", tmp_path / "sc", 30, seed=2)
    one = tmp_path / "one"
    build(
        [str(tmp_path / "sc" / "logs")],
        default_registry(plugins=False),
        BuildOptions(outdir=one, correlate=False),
    )
    many = tmp_path / "many"
    shutil.copytree(one, many)
    correlate_outdir(one, "events.parquet", CorrelationConfig(), buckets=1)
    correlate_outdir(many, "events.parquet", CorrelationConfig(), buckets=7)
    a = read_events(one / "timeline.parquet")
    assert a.equals(read_events(many / "timeline.parquet"))
    memory, requests, _ = correlate(read_events(one / "events.parquet"), CorrelationConfig())
    assert a.equals(memory)
    assert pl.read_parquet(one / "requests.parquet").equals(requests)
