"""timeline.parserkit.http: request targets and address lists."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.parserkit.helpers import apply
from timeline.parserkit.http import IP_LIST_RE, first_hop, query, route

X = pl.col("x")


def test_route_query_and_first_hop() -> None:
    targets = ["/v1/chat?x=1#f", "https://api.example.com/v1/x?y", "http://h:80", "-", "/a b", None]
    assert apply(route(X), targets) == ["/v1/chat", "/v1/x", None, None, "/a b", None]
    assert apply(query(X), targets) == ["x=1", "y", None, None, None, None]
    hops = ['"203.0.113.7, 10.0.0.1"', "2001:db8::1", " - ", ""]
    assert apply(first_hop(X), hops) == ["203.0.113.7", "2001:db8::1", None, None]
    assert apply(X.str.contains(f"^{IP_LIST_RE}$"), ["1.2.3.4, [::1]:80", "a, b"]) == [
        True,
        False,
    ]


segment = st.from_regex(r"[A-Za-z0-9._~%-]{1,8}", fullmatch=True)


@pytest.mark.slow  # a hypothesis run of many examples: CI's slow step
@settings(max_examples=60, deadline=None)
@given(
    st.lists(segment, min_size=1, max_size=4),
    st.from_regex(r"[a-z0-9=&]{0,10}", fullmatch=True),
    st.sampled_from(["", "https://example.com", "http://10.0.0.1:8080"]),
)
def test_route_ignores_origin_query_and_fragment(parts: list[str], q: str, origin: str) -> None:
    path = "/" + "/".join(parts)
    assert apply(route(X), [f"{origin}{path}?{q}#frag", path]) == [path, path]
    assert apply(query(X), [f"{path}?{q}"]) == [q or None]
