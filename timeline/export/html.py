"""The appendix as one self-contained HTML page.

No external resources: inline CSS, inline SVG, a little vanilla JS (filtering tables, expanding
requests). Every log-derived string goes through jinja2's autoescape; the embedded JSON escapes
``<``, ``>`` and ``&``; a Content-Security-Policy allows only this page's own style and script
(by hash), so even a string that escaped escaping could not run or load anything.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any, Final

import jinja2

from timeline.export.svg import chart
from timeline.export.text import NULL_TEXT, cites, hm, number, pct

CSS: Final = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1200px;padding:0 1rem;color:#1b1f24}
h1{font-size:1.6rem}h2{border-bottom:1px solid #d0d7de;padding-bottom:.2rem;margin-top:2rem}
.notice{background:#f6f8fa;border-left:4px solid #8c959f;padding:.5rem .8rem}
table{border-collapse:collapse;margin:.6rem 0;width:100%}th,td{border:1px solid #d0d7de;padding:.25rem .45rem;text-align:left;vertical-align:top;overflow-wrap:normal;word-break:normal}
th{background:#f6f8fa}.cite{font-family:ui-monospace,monospace;font-size:12px;color:#57606a;overflow-wrap:anywhere;word-break:break-all;min-width:16rem}
svg .total{fill:#c8d1dc}svg .failing{fill:#cf222e}svg .marker{stroke:#0969da;stroke-dasharray:4 3}
svg .axis{stroke:#57606a}svg .tick,svg .mlabel{font-size:11px;fill:#57606a}svg .mlabel{fill:#0969da}
tr.heuristic td{background:#fff8c5}tr.corrected td:nth-child(2){font-weight:bold}
tr.hidden{display:none}
@media print{.noprint{display:none}details{display:block}details>summary{list-style:none}body{margin:0;max-width:none}}
"""

JS: Final = """
(function () {
  "use strict";
  var input = document.getElementById("filter");
  input.addEventListener("input", function () {
    var needle = input.value.toLowerCase();
    document.querySelectorAll("table.filterable tr").forEach(function (row, index) {
      if (row.querySelector("th")) { return; }
      var text = row.textContent.toLowerCase();
      row.classList.toggle("hidden", needle !== "" && text.indexOf(needle) === -1);
    });
  });
  function setAll(open) {
    document.querySelectorAll("details").forEach(function (d) { d.open = open; });
  }
  document.getElementById("expand").addEventListener("click", function () { setAll(true); });
  document.getElementById("collapse").addEventListener("click", function () { setAll(false); });
  window.addEventListener("beforeprint", function () { setAll(true); });
})();
"""


def _hash(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()


def script_json(value: Any) -> str:
    """JSON safe inside ``<script type="application/json">``: no ``</``, no ``<!--``."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _shown(value: Any) -> Any:
    """What every ``{{ ... }}`` of the template prints: a missing value as ``—``, never ``None``."""
    return NULL_TEXT if value is None else value


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("timeline.export", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=False,
        finalize=_shown,
    )


def render_html(doc: dict[str, Any]) -> str:
    """The whole appendix as one HTML page."""
    template = _environment().get_template("appendix.html.j2")
    return template.render(
        doc=doc,
        chart=chart(doc["outcomes"]["requests"], doc["changes"]["change_points"]),
        css=CSS,
        js=JS,
        style_hash=_hash(CSS),
        script_hash=_hash(JS),
        data_json=script_json(doc),
        cites=cites,
        hm=hm,
        pct=pct,
        number=number,
    )
