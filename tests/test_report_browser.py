"""The HTML appendix in headless Chromium: it renders, loads nothing, runs no log content, logs
no console error (a CSP violation would be one), and its request-id search box filters.

Marked ``browser``. Under CI=true a missing chromium is a failure; elsewhere the tests skip.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.test_html_ranking import _doc as ranking_doc
from timeline.export.html import render_html
from timeline.export.write import ReportOptions, write_report
from timeline.parse.registry import default_registry
from timeline.pipeline.build import BuildOptions, build

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
SECURITY = ROOT / "fixtures" / "security"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("CI") == "true":
        pytest.fail("chromium is missing: .ci/run must install it (apt-get install -y chromium)")
    pytest.skip("chromium not installed (apt-get install chromium)")


def _run(tmp: Path, page: Path, *extra: str, query: str = "") -> subprocess.CompletedProcess[str]:
    profile = tmp / f"profile-{len(list(tmp.iterdir()))}"
    return subprocess.run(
        [_chromium(), *FLAGS, f"--user-data-dir={profile}", *extra, page.as_uri() + query],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("browser")
    build(
        [str(SECURITY / "logs")],
        default_registry(plugins=False),
        BuildOptions(outdir=outdir, keep_content=True),
    )
    write_report(outdir, ReportOptions(formats=("html",)))
    return outdir / "appendix.html"


def _png_pixels(data: bytes) -> tuple[int, int, bytes]:
    """Width, height and raw RGB(A) rows (filters undone) of an 8-bit PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height, ctype = 8, b"", 0, 0, 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, _, ctype = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    bpp = 4 if ctype == 6 else 3
    raw, stride, out, prev = zlib.decompress(idat), width * bpp, bytearray(), bytearray(width * bpp)
    for y in range(height):
        f, row = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        for i in range(stride):
            a = row[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                row[i] = (row[i] + a) & 255
            elif f == 2:
                row[i] = (row[i] + b) & 255
            elif f == 3:
                row[i] = (row[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                row[i] = (row[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        out += row
        prev = row
    return width, height, bytes(out)


def test_screenshot_is_not_blank(tmp_path: Path, page: Path) -> None:
    shot = tmp_path / "shot.png"
    _run(tmp_path, page, f"--screenshot={shot}", "--window-size=1000,800")
    width, height, pixels = _png_pixels(shot.read_bytes())
    assert (width, height) == (1000, 800)
    distinct = len({pixels[i : i + 3] for i in range(0, len(pixels), 3 * 97)})
    dark = sum(1 for i in range(0, len(pixels), 3 * 31) if pixels[i] < 100)
    assert distinct > 20 and dark > 50, "the page rendered (nearly) blank"


def _page_requests(netlog: Path) -> list[str]:
    """URLs the page itself requested: URL_REQUEST_START_JOB events made for the file:// page.

    The browser's own background traffic (update and time checks) has no page origin
    ("not an origin") and is left out.
    """
    text = netlog.read_text(encoding="utf-8").rstrip()
    if not text.endswith("}"):  # the log is cut when the browser exits abruptly
        text = text.rstrip(",") + "]}"
    log = json.loads(text)
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    urls = []
    for event in log.get("events", []):
        params = event.get("params") or {}
        if event.get("type") != start_job or "url" not in params:
            continue
        for_page = params.get("initiator") != "not an origin" or "file://" in str(
            params.get("network_isolation_key", "")
        )
        if for_page:
            urls.append(str(params["url"]))
    return urls


def test_no_network_requests(tmp_path: Path, page: Path) -> None:
    netlog = tmp_path / "net.json"
    _run(tmp_path, page, f"--log-net-log={netlog}", "--dump-dom", "--virtual-time-budget=2000")
    assert netlog.stat().st_size > 0
    assert [u for u in _page_requests(netlog) if not u.startswith(("data:", "file:"))] == []


def test_network_check_can_fail(tmp_path: Path) -> None:
    """Control: a page that loads an image from the network shows up in the net log."""
    control = tmp_path / "control.html"
    control.write_text('<img src="http://127.0.0.1:9/x.png">', encoding="utf-8")
    netlog = tmp_path / "net.json"
    _run(tmp_path, control, f"--log-net-log={netlog}", "--dump-dom", "--virtual-time-budget=2000")
    assert "http://127.0.0.1:9/x.png" in _page_requests(netlog)


def test_no_script_or_handler_from_log_content_runs(tmp_path: Path, page: Path) -> None:
    result = _run(tmp_path, page, "--dump-dom", "--virtual-time-budget=2000")
    dom = result.stdout
    assert "<title>Postmortem appendix</title>" in dom
    assert "<title>PWNED</title>" not in dom
    assert "&lt;script&gt;document.title='PWNED'&lt;/script&gt;" in dom
    tags = _tags(dom)
    assert [t for t, attrs in tags if any(k.startswith("on") for k, _ in attrs)] == []
    assert [t for t, _ in tags if t in ("img", "iframe", "object", "embed")] == []
    links = [dict(attrs).get("href") for t, attrs in tags if t == "a"]
    assert links and all(str(h).startswith("#") for h in links)  # only links within the page
    assert sum(1 for t, _ in tags if t == "script") == 2  # the page's data and its own script


def _tags(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    class Collect(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.tags.append((tag, attrs))

    parser = Collect()
    parser.feed(html)
    return parser.tags


def test_marker_check_can_fail(tmp_path: Path) -> None:
    """Control: the same payload, unescaped, does change the title."""
    control = tmp_path / "control.html"
    control.write_text("<title>ok</title><script>document.title='PWNED'</script>", encoding="utf-8")
    assert "<title>PWNED</title>" in _run(tmp_path, control, "--dump-dom").stdout


def _console(stderr: str) -> list[str]:
    """Messages the page wrote to the console (chromium logs them with ``:CONSOLE``)."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def test_no_console_errors(tmp_path: Path, page: Path) -> None:
    result = _run(
        tmp_path,
        page,
        "--enable-logging=stderr",
        "--v=0",
        "--dump-dom",
        "--virtual-time-budget=2000",
    )
    assert "<title>Postmortem appendix</title>" in result.stdout
    assert _console(result.stderr) == []


def test_no_console_errors_with_the_causal_ranking(tmp_path: Path) -> None:
    """The page with likely candidates, values tested and not likely, failure modes, impact and
    an exemplar's chain: still no console error (a CSP violation from a new part would be one)."""
    ranked = tmp_path / "ranked.html"
    ranked.write_text(render_html(ranking_doc()), encoding="utf-8")
    result = _run(
        tmp_path,
        ranked,
        "--enable-logging=stderr",
        "--v=0",
        "--dump-dom",
        "--virtual-time-budget=2000",
    )
    assert 'id="candidate-1"' in result.stdout and 'id="failure-modes"' in result.stdout
    assert _console(result.stderr) == []


def test_console_check_can_fail(tmp_path: Path) -> None:
    """Control: a script error and a CSP violation both reach the log."""
    control = tmp_path / "control.html"
    control.write_text(
        '<meta http-equiv="Content-Security-Policy" content="style-src \'none\'">'
        '<p style="color:red">x</p><script>missing();</script>',
        encoding="utf-8",
    )
    result = _run(
        tmp_path,
        control,
        "--enable-logging=stderr",
        "--v=0",
        "--dump-dom",
        "--virtual-time-budget=2000",
    )
    messages = " ".join(_console(result.stderr))
    assert "missing is not defined" in messages and "Content Security Policy" in messages


def _exemplars(dom: str) -> dict[str, bool]:
    """Each exemplar section's request id and whether it is shown."""
    out = {}
    for tag, attrs in _tags(dom):
        values = dict(attrs)
        if tag == "section" and "exemplar" in str(values.get("class")).split():
            out[str(values.get("data-request"))] = "hidden" not in str(values["class"]).split()
    return out


def test_request_search_box_filters_exemplars(tmp_path: Path, page: Path) -> None:
    """``?request=`` fills the search box and fires its input event, as typing would."""
    shown = _exemplars(_run(tmp_path, page, "--dump-dom", "--virtual-time-budget=2000").stdout)
    assert len(shown) >= 2 and all(shown.values())
    wanted = sorted(shown)[1]
    result = _run(
        tmp_path, page, "--dump-dom", "--virtual-time-budget=2000", query=f"?request={wanted[-6:]}"
    )
    filtered = _exemplars(result.stdout)
    assert filtered == {cid: cid == wanted for cid in shown}
    assert f"1 of {len(shown)} exemplar requests match" in result.stdout
    controls = [
        dict(a) for t, a in _tags(result.stdout) if t == "p" and ("class", "controls noprint") in a
    ]
    assert controls and all("hidden" not in c for c in controls)  # shown once the script runs
    none = _run(tmp_path, page, "--dump-dom", "--virtual-time-budget=2000", query="?request=zzzz")
    assert not any(_exemplars(none.stdout).values())
