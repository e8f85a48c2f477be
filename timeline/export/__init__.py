"""Exports of the postmortem appendix: Markdown, self-contained HTML, JSON, postmortem draft.

Every export goes through :mod:`timeline.export.redact` first.
"""
