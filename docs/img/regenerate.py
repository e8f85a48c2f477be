"""Regenerate the screenshots of the HTML appendix shown in docs/report.md ("Pictures").

Run from the repository root: ``python docs/img/regenerate.py`` (needs ``chromium``:
``apt-get install -y chromium``). It builds bundled scenarios (model revision rollout for the
summary, outcomes and exemplar; an index switch for the candidate ranking with values tested and
not likely, failure modes and impact; noise for the "no rise, no likely candidate" state), writes
their appendices, and takes headless Chromium screenshots of their parts; a part below the top of
the page is shot through a small wrapper page that opens the appendix at that part's anchor in a
frame. Also writes ``exemplar.mmd``, the Mermaid source of the first exemplar as in appendix.md.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SCENARIOS = ROOT / "fixtures" / "scenarios"
SCENARIO = SCENARIOS / "model_revision_rollout" / "logs"
RANKED = SCENARIOS / "index_switch_empty_results" / "logs"
NOISE = SCENARIOS / "noise_no_cause" / "logs"
WIDTH = 1280
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--hide-scrollbars",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--virtual-time-budget=3000",
)


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        sys.exit("chromium not found: apt-get install -y chromium")
    return found


def _shoot(page: Path, png: Path, height: int, fragment: str = "", query: str = "") -> None:
    """A screenshot of ``page`` (at ``#fragment`` / with ``?query``), ``WIDTH`` x ``height``."""
    target = page
    if fragment:
        target = page.with_name(f"frame-{fragment}.html")
        target.write_text(
            "<!DOCTYPE html><html><head><style>body{margin:0}iframe{border:0;"
            f"width:{WIDTH}px;height:{height}px}}</style></head><body>"
            f'<iframe src="{page.name}{query}#{fragment}"></iframe></body></html>',
            encoding="utf-8",
        )
        query = ""
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                _chromium(),
                *FLAGS,
                f"--user-data-dir={profile}",
                f"--screenshot={png}",
                f"--window-size={WIDTH},{height}",
                target.as_uri() + query,
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    print(f"wrote {png.relative_to(ROOT)}")


def _appendix(logs: Path, outdir: Path) -> Path:
    """Build ``logs`` into ``outdir`` and write its HTML and JSON appendix; the HTML page."""
    from timeline.export.write import ReportOptions, write_report
    from timeline.parse.registry import default_registry
    from timeline.pipeline.build import BuildOptions, build

    build([str(logs)], default_registry(plugins=False), BuildOptions(outdir=outdir))
    write_report(outdir, ReportOptions(formats=("html", "json")))
    return outdir / "appendix.html"


def main() -> None:
    """Build the scenarios, write their appendices, take the screenshots."""
    sys.path.insert(0, str(ROOT))
    from timeline.export.mermaid import sequence

    with tempfile.TemporaryDirectory() as tmp:
        outdir = Path(tmp) / "out"
        page = _appendix(SCENARIO, outdir)
        doc = json.loads((outdir / "appendix.json").read_text(encoding="utf-8"))
        first = doc["exemplars"][0]
        request = "req-" + first["correlation_id"]
        _shoot(page, HERE / "appendix-summary.png", 1500)
        _shoot(page, HERE / "appendix-outcomes.png", 1000, fragment="outcomes")
        _shoot(page, HERE / "appendix-exemplar.png", 760, fragment=request)
        _shoot(
            page,
            HERE / "appendix-search.png",
            900,
            fragment="exemplars",
            query=f"?request={first['correlation_id'][-6:]}",
        )
        ranked = _appendix(RANKED, Path(tmp) / "ranked")
        _shoot(ranked, HERE / "appendix-candidates.png", 1090, fragment="candidates")
        _shoot(ranked, HERE / "appendix-impact.png", 1000, fragment="impact")
        noise = _appendix(NOISE, Path(tmp) / "noise")
        _shoot(noise, HERE / "appendix-no-candidate.png", 560, fragment="candidates")
        mmd = "\n".join(sequence(first)) + "\n"
        (HERE / "exemplar.mmd").write_text(mmd, encoding="utf-8")
        print(f"wrote {(HERE / 'exemplar.mmd').relative_to(ROOT)}")


if __name__ == "__main__":
    main()
