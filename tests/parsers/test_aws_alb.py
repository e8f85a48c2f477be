"""The AWS ELB access-log parser's tricky parts: quoting, -1 timings, appended fields, IPv6."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parsers.gateway.aws_alb.parser import AwsAlbParser
from parsers.gateway.envoy_text.parser import EnvoyTextParser
from parsers.gateway.nginx_combined.parser import NginxCombinedParser
from timeline.correlation.ids import normalize
from timeline.parserkit.api import LINE_SCHEMA, ParseResult, Sample, Source

PARSER = AwsAlbParser()
TG = "arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/llm/73e2d6bc24d8a067"
HEAD = "http 2025-03-02T10:15:04.186641Z app/gw/50dc6c495c0c9188"
# Everything after the request and user agent on a 2020+ ALB line (without conn_trace_id).
ALB_TAIL = (
    f'- - {TG} "Root=1-67c42f38-36d228ad5d99923122bbe354" "-" "-" 0 '
    '2025-03-02T10:15:03.343000Z "forward" "-" "-" "10.0.1.15:8000" "200" "-" "-"'
)
CLASSIC = (
    "2015-05-13T23:39:43.945958Z my-lb 192.168.131.39:2817 10.0.0.1:80 0.000073 0.001048 "
    '0.000057 200 200 0 29 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.38.0" - -'
)


def alb(
    client: str = "203.0.113.7:52814",
    timings: str = "0.000 0.842 0.000",
    codes: str = "200 200",
    request: str = "POST http://api.example.net:80/v1/chat/completions HTTP/1.1",
    user_agent: str = "openai-python/1.40.0",
    tail: str = ALB_TAIL,
) -> str:
    """One ALB line with the given fields (the rest as AWS documents them)."""
    return (
        f"{HEAD} {client} 10.0.1.15:8000 {timings} {codes} 1532 2210 "
        f'"{request}" "{user_agent}" {tail}'
    )


def parse(lines: list[str]) -> ParseResult:
    frame = pl.DataFrame(
        {"source_line": list(range(1, len(lines) + 1)), "line": lines}, schema=LINE_SCHEMA
    )
    return PARSER.parse(Source("t", frame))


def one(line: str) -> dict[str, Any]:
    result = parse([line])
    assert result.rejects.height == 0, result.rejects.to_dicts()
    row: dict[str, Any] = result.events.to_dicts()[0]
    return row


def attrs(row: dict[str, Any]) -> dict[str, str]:
    return {kv["key"]: kv["value"] for kv in row["attributes"]}


def test_documented_alb_line_maps_to_the_canonical_columns() -> None:
    row = one(alb())
    assert row["event_type"] == "http.response"  # ALB `time`: the response was generated
    assert row["host"] == "app/gw/50dc6c495c0c9188"
    assert (row["http_method"], row["http_route"]) == ("POST", "/v1/chat/completions")
    assert (row["status_code"], row["status"]) == (200, "ok")
    assert row["client_address"] == "203.0.113.7"
    assert row["upstream"] == "10.0.1.15:8000"
    assert row["duration_ms"] == 842.0
    a = attrs(row)
    assert a["upstream_status"] == "200"
    assert a["request_creation_time"] == "2025-03-02T10:15:03.343000Z"
    assert a["listener_port"] == "80" and a["http_host"] == "api.example.net"


def test_escaped_quotes_in_the_user_agent_and_request_are_undone() -> None:
    row = one(
        alb(user_agent=r"Mozilla/5.0 \"Chat\" \\ok", request=r"GET http://h:80/a\"b HTTP/1.1")
    )
    a = attrs(row)
    assert a["user_agent"] == 'Mozilla/5.0 "Chat" \\ok'
    assert row["http_route"] == '/a"b'
    assert a["target_group_arn"] == TG  # the fields after the quoted ones stay aligned


def test_a_url_with_blanks_is_kept_whole() -> None:
    row = one(alb(request="GET http://h:80/files/my report.txt?x=1 HTTP/1.1"))
    assert row["http_route"] == "/files/my report.txt"
    assert attrs(row)["query"] == "x=1"


@pytest.mark.parametrize(
    ("timings", "duration"),
    [("0.086 0.048 0.037", 171.0), ("-1 -1 -1", None), ("0.000 -1 -1", None)],
)
def test_minus_one_timings_give_no_duration_and_say_why(
    timings: str, duration: float | None
) -> None:
    row = one(alb(timings=timings, codes="504 -" if duration is None else "200 200"))
    assert row["duration_ms"] == duration
    a = attrs(row)
    assert ("duration_unavailable" in a) is (duration is None)
    if duration is None:
        assert a["target_processing_time"] == "-1"
        assert row["status"] == "timeout"
        assert "upstream_status" not in a


@pytest.mark.parametrize(
    ("client", "ip", "port"),
    [
        ("203.0.113.7:52814", "203.0.113.7", "52814"),
        (
            "2a02:a33c:4538:1:bcf4:5264:e01c:f215:50718",
            "2a02:a33c:4538:1:bcf4:5264:e01c:f215",
            "50718",
        ),
        ("2001:db8::42:443", "2001:db8::42", "443"),
        ("[2001:db8::42]:443", "2001:db8::42", "443"),
    ],
)
def test_client_port_splits_at_the_last_colon(client: str, ip: str, port: str) -> None:
    row = one(alb(client=client))
    assert row["client_address"] == ip
    assert attrs(row)["client_port"] == port


def test_unknown_trailing_fields_are_kept_not_rejected() -> None:
    row = one(alb(tail=ALB_TAIL + ' TID_dc57cebed65b444ebc8177bb698fe166 "new.example" "/v2" -'))
    a = attrs(row)
    assert a["conn_trace_id"] == "TID_dc57cebed65b444ebc8177bb698fe166"
    assert a["extra"] == '"new.example" "/v2" -'
    assert row["trace_id"] == "67c42f3836d228ad5d99923122bbe354"


@pytest.mark.parametrize("cut", [1, 2, 4, 5, 6, 9, 11, 13])
def test_older_alb_lines_that_stop_early_parse(cut: int) -> None:
    # Split the tail into its fields (the quoted ones hold no blanks here) and drop the newest.
    fields = ALB_TAIL.split(" ")
    row = one(alb(tail=" ".join(fields[: 2 + cut])))
    a = attrs(row)
    assert a["target_group_arn"] == TG and "extra" not in a
    assert (row["trace_id"] is not None) is (cut >= 2)


def test_the_x_amzn_trace_id_root_is_the_trace_id_and_links_like_ids_normalizes_it() -> None:
    trace = "Self=1-67c42f3b-12456789abcdef012345678;Root=1-67c42f3b-abcdef012345678912345678;A=b"
    row = one(alb(tail=f'- - {TG} "{trace}"'))
    assert row["trace_id"] == "67c42f3babcdef012345678912345678"
    assert row["ids"] == [{"kind": "x_amzn_trace_id", "value": trace}]
    nodes = pl.DataFrame(
        {"kind": ["x_amzn_trace_id", "trace_id"], "value": [trace, row["trace_id"]]}
    ).select(normalize(pl.col("kind"), pl.col("value")))
    assert nodes.to_series().n_unique() == 1


def test_waf_block_lambda_and_desync_classification() -> None:
    waf = one(
        alb(
            timings="-1 -1 -1",
            codes="403 -",
            tail=f'- - {TG} "-" "-" "-" 0 2025-03-02T10:15:03.343000Z "waf" "-" "-" "-" "-" "-" "-"',
        )
    )
    assert waf["status"] == "blocked" and waf["ids"] == [] and waf["trace_id"] is None
    lam = one(
        alb(
            codes="502 -",
            tail=f'- - {TG} "-" "-" "-" 0 2025-03-02T10:15:03.343000Z "forward" "-" '
            '"LambdaInvalidResponse" "-" "-" "-" "-"',
        ).replace(" 10.0.1.15:8000 ", " - ", 1)
    )
    assert lam["upstream"] == TG and lam["error_type"] == "LambdaInvalidResponse"
    severe_tail = ALB_TAIL.removesuffix('"-" "-"') + '"Severe" "BadHeader"'
    severe = one(alb(codes="400 -", tail=severe_tail))
    assert severe["error_type"] == "BadHeader"


def test_classic_elb_lines_are_requests_and_tcp_listeners_have_no_http() -> None:
    row = one(CLASSIC)
    assert row["event_type"] == "http.request"  # Classic `timestamp`: the request was received
    assert row["duration_ms"] == 1.178
    assert attrs(row)["backend_processing_time"] == "0.001048"
    request = '"GET http://www.example.com:80/ HTTP/1.1" "curl/7.38.0"'
    tcp = one(CLASSIC.replace(request, '"- - - " "-"').replace("200 200", "- -"))
    assert tcp["status"] == "ok" and tcp["http_method"] is None and tcp["status_code"] is None
    assert attrs(tcp)["connection"] == "tcp"


def test_rejects_say_what_is_wrong_and_every_line_is_accounted_for() -> None:
    lines = [
        alb(),
        alb()[:120],
        alb().replace("2025-03-02T", "2025-14-02T", 1),
        "tls 2.0 2025-03-02T10:15:08 net/nlb/515f6d2d1c9a2f11 g3d4 203.0.113.7:1 10.0.1.15:443 1 2",
        '203.0.113.7 - - [02/Mar/2025:10:15:09 +0000] "GET / HTTP/1.1" 200 1 "-" "curl"',
        "",
    ]
    result = parse(lines)
    assert result.events["source_line"].to_list() == [1]
    assert dict(zip(*result.rejects.to_dict(as_series=False).values(), strict=True)) == {
        2: "malformed ELB line: fields after client:port missing or out of place",
        3: "time is not a valid ISO 8601 timestamp",
        4: "a Network Load Balancer line (not an ALB or Classic ELB line)",
        5: "not an ALB or Classic ELB access log line",
        6: "not an ALB or Classic ELB access log line",
    }


def test_sniff_scores_elb_lines_high_and_other_gateway_formats_low() -> None:
    assert PARSER.sniff(Sample("a", (alb(), CLASSIC))) == 1.0
    nginx = '203.0.113.7 - - [02/Mar/2025:10:15:04 +0000] "GET / HTTP/1.1" 200 612 "-" "curl/8.0"'
    envoy = (
        '[2025-03-02T10:15:04.000Z] "GET / HTTP/1.1" 200 - 0 612 3 2 "-" "curl/8.0" '
        '"7c3a1f0e-9b2d-4c6a-8e0f-1a2b3c4d5e6f" "api" "10.0.0.1:80"'
    )
    assert PARSER.sniff(Sample("n", (nginx, envoy))) == 0.0
    assert NginxCombinedParser().sniff(Sample("a", (alb(), CLASSIC))) == 0.0
    assert EnvoyTextParser().sniff(Sample("a", (alb(), CLASSIC))) == 0.0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=120), min_size=1, max_size=8))
def test_never_crashes_and_accounts_for_every_line(lines: list[str]) -> None:
    result = parse([*lines, alb()])
    assert result.events.height + result.rejects.height == len(lines) + 1
