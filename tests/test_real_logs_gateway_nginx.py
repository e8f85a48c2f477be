"""The nginx sample from ../shared/real-logs: every variant line parses, with the right client."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import assert_real_log


def test_nginx_combined_parses_every_real_line(real_logs: Path) -> None:
    run = assert_real_log(real_logs, "gateway_nginx_combined.log", "nginx_combined", 1.0)
    acc = run.account
    assert acc.lines_read == 20
    assert acc.lines_rejected == 0
    clients = dict(zip(run.events["source_line"], run.events["client_address"], strict=True))
    # XFF chains in place of the address: the first hop is the client.
    assert clients[14] == "10.0.0.2"
    assert clients[19].startswith("2a03:")
    # A quoted XFF list followed by the peer address.
    assert clients[18] == "10.5.102.222"
    # A leading $host is not mistaken for the client.
    assert clients[13] == "192.168.0.1"
