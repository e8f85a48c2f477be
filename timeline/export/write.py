"""Write the appendix exports into OUTDIR atomically."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from timeline.analyze.appendix import AnalysisOptions, analyze
from timeline.analyze.load import load_outdir
from timeline.errors import ConfigError
from timeline.export.clip import clip
from timeline.export.html import render_html
from timeline.export.jsonout import render_json
from timeline.export.markdown import render_markdown
from timeline.export.postmortem import render_postmortem
from timeline.export.redact import Redactor, salt_for
from timeline.io.atomic import write_text_atomic
from timeline.layout import APPENDIX, POSTMORTEM

FORMATS: Final[dict[str, tuple[str, Callable[[dict[str, Any]], str]]]] = {
    "md": (APPENDIX["md"], render_markdown),
    "html": (APPENDIX["html"], render_html),
    "json": (APPENDIX["json"], render_json),
}


@dataclass(frozen=True)
class ReportOptions:
    """Settings of one report."""

    formats: tuple[str, ...] = ("md", "html", "json")
    failing: str | None = None
    include_content: bool = False
    template: bool = False


def resolve_formats(values: Iterable[str]) -> tuple[str, ...]:
    """``md``, ``html``, ``json`` or ``all`` (repeatable); default all; in a fixed order."""
    wanted = set(values) or {"all"}
    unknown = sorted(wanted - {*FORMATS, "all"})
    if unknown:
        raise ConfigError(f"unknown format {unknown[0]!r}; choose from md, html, json, all")
    return tuple(FORMATS) if "all" in wanted else tuple(f for f in FORMATS if f in wanted)


def write_report(outdir: Path, options: ReportOptions) -> list[Path]:
    """Analyze ``outdir``, redact, shorten long strings, and write the chosen exports.

    Returns the paths written.
    """
    data = load_outdir(outdir)
    doc = analyze(data, AnalysisOptions(failing=options.failing))
    redactor = Redactor(salt_for(data.manifest), include_content=options.include_content)
    safe = clip(redactor.document(doc))
    written = []
    for name in options.formats:
        filename, render = FORMATS[name]
        write_text_atomic(outdir / filename, render(safe))
        written.append(outdir / filename)
    if options.template:
        write_text_atomic(outdir / POSTMORTEM, render_postmortem(safe))
        written.append(outdir / POSTMORTEM)
    return written
