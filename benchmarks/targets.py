"""The targets of issue 15, defined once: every row of its Targets table, and how a measured figure
is judged against it.

``python -m benchmarks.run --issue15`` measures every row (:func:`benchmarks.issue15.issue15`) and
prints :func:`table`; the runner's own checks (:func:`benchmarks.session.ratios`) read their limits
from here too.

A row's figure is judged only at the scale its target is for (``requests``): a wall time or a
peak RSS measured on a 20k-request smoke run says nothing about 1M, so its verdict is "n/a". Ratios
and MB/s per core do not depend much on the scale; they are judged at any scale, and the verdict
names the scale when it is not the target's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

ONE_M: Final = 1_000_000
TEN_M: Final = 10_000_000
ISSUE: Final = 15

# The runs that measure the rows (``--rows``): each is one corpus and its tools, or the parsers.
RUNS: Final = ("1m", "modern", "parsers", "10m", "spark")
DEFAULT_RUNS: Final = ("1m", "modern", "parsers", "10m")  # spark only with --spark


@dataclass(frozen=True)
class Target:
    """One row of issue 15's Targets table."""

    key: str  # the row's name in the printed table and the results JSON
    label: str  # the issue's wording
    run: str  # the run that measures it (:data:`RUNS`)
    unit: str  # "s", "x", "MB/s", "MB"
    issue_today: str  # the figure when the issue was filed
    required: float | None  # None: no target (reported only)
    stretch: float | None = None
    higher_is_better: bool = False
    requests: int | None = None  # the scale the target is for; None: judged at any scale

    def met(self, value: float, limit: float) -> bool:
        """Whether ``value`` meets ``limit`` in this row's direction."""
        return value >= limit if self.higher_is_better else value <= limit

    def bound(self, limit: float | None) -> str:
        """``<= 40 s``, ``>= 25 MB/s``, or ``-`` without a limit."""
        if limit is None:
            return "-"
        op = ">=" if self.higher_is_better else "<="
        return f"{op} {_number(limit)}{_unit(self.unit)}"


def _number(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 or value == int(value) else f"{value:.2f}"


def _unit(unit: str) -> str:
    return unit if unit == "x" else f" {unit}"


TARGETS: Final[tuple[Target, ...]] = (
    Target(
        "1m_wall",
        "1M requests, current corpus, whole build (parse, correlate, appendix): wall",
        "1m",
        "s",
        "360 s",
        40.0,
        20.0,
        requests=ONE_M,
    ),
    Target(
        "1m_ratio_duckdb",
        "same, ratio to the DuckDB baseline in the same run",
        "1m",
        "x",
        "71x",
        8.0,
        4.0,
    ),
    Target(
        "modern_ratio_duckdb",
        "1M requests, modern-stack corpus, ratio to DuckDB",
        "modern",
        "x",
        "not measured",
        8.0,
        4.0,
    ),
    Target(
        "parsers_min_mb_s",
        "every parser, MB/s per core (the slowest one)",
        "parsers",
        "MB/s",
        "1 to 6",
        25.0,
        60.0,
        higher_is_better=True,
    ),
    Target(
        "10m_wall",
        "10M requests, whole build: wall",
        "10m",
        "s",
        "~1.7 h in three runs",
        480.0,
        240.0,
        requests=TEN_M,
    ),
    Target(
        "1m_peak_rss",
        "peak RSS at 1M, appendix included",
        "1m",
        "MB",
        "1.5 GB",
        2048.0,
        requests=ONE_M,
    ),
    Target(
        "10m_peak_rss",
        "peak RSS at 10M, appendix included",
        "10m",
        "MB",
        "3.35 GB",
        3072.0,
        requests=TEN_M,
    ),
    Target(
        "spark_1m_wall",
        "(extra) 1M requests, Spark engine, build without appendix: wall",
        "spark",
        "s",
        "-",
        None,
    ),
)
BY_KEY: Final[dict[str, Target]] = {t.key: t for t in TARGETS}

# Item 3 of the issue (not a row of its table): CPU utilisation of the parse stage on 2 cores.
PARSE_CPU_UTIL: Final = 1.7


def target(key: str) -> Target:
    """The target of row ``key``."""
    return BY_KEY[key]


def scale(requests: int) -> str:
    """``1M``, ``10M``, ``20k``, ``1.5M``: a request count as the issue writes it."""
    if requests >= ONE_M:
        value = requests / ONE_M
        return f"{value:g}M"
    if requests >= 1000:
        return f"{requests / 1000:g}k"
    return str(requests)


def verdict(t: Target, value: float | None, requests: int | None = None) -> str:
    """``stretch met``, ``met``, ``MISSED``, ``not run``, ``no target`` or ``n/a (...)``.

    ``requests`` is the scale the figure was measured at (None: the target's own).
    """
    if value is None:
        return "not run"
    if t.required is None:
        return "no target"
    off_scale = requests is not None and t.requests is not None and requests != t.requests
    if off_scale:
        return f"n/a (measured at {scale(requests or 0)}, target is for {scale(t.requests or 0)})"
    if t.stretch is not None and t.met(value, t.stretch):
        word = "stretch met"
    elif t.met(value, t.required):
        word = "met"
    else:
        word = "MISSED"
    if requests is not None and t.run in ("1m", "modern") and requests != ONE_M:
        word += f" (at {scale(requests)})"
    return word


def fmt_value(t: Target, value: float | None) -> str:
    """A measured figure in the row's unit."""
    if value is None:
        return "-"
    if t.unit == "x":
        return f"{value:.2f}x"
    if t.unit == "MB":
        return f"{value:,.0f} MB"
    if t.unit == "MB/s":
        return f"{value:.1f} MB/s"
    return f"{value:,.1f} s"


def row(
    t: Target, value: float | None, requests: int | None, note: str = "", failed: str = ""
) -> dict[str, Any]:
    """One row of the table as the results JSON stores it; ``failed`` (why the run failed)
    makes the verdict ``FAILED: ...``."""
    return {
        "key": t.key,
        "label": t.label,
        "run": t.run,
        "unit": t.unit,
        "issue_today": t.issue_today,
        "value": None if value is None else round(value, 3),
        "today": fmt_value(t, value),
        "required": t.bound(t.required),
        "stretch": t.bound(t.stretch),
        "requests": requests,
        "verdict": f"FAILED: {failed}" if failed else verdict(t, value, requests),
        "note": note,
    }


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Issue 15's Targets table, as Markdown: one line per row, in :data:`TARGETS` order."""
    order = {t.key: i for i, t in enumerate(TARGETS)}
    lines = [
        "| row | target | when filed | today (measured) | required | stretch | verdict | note |",
        "|---|---|---|---:|---|---|---|---|",
    ]
    for r in sorted(rows, key=lambda r: order.get(str(r["key"]), len(order))):
        today = str(r["today"])
        if r.get("requests"):
            today += f" ({scale(int(r['requests']))})" if r["run"] != "parsers" else ""
        lines.append(
            "| "
            + " | ".join(
                _cell(str(x))
                for x in (
                    r["key"],
                    r["label"],
                    r["issue_today"],
                    today,
                    r["required"],
                    r["stretch"],
                    r["verdict"],
                    r.get("note", ""),
                )
            )
            + " |"
        )
    return "\n".join(lines)
