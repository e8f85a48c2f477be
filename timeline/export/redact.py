"""Redaction of every string that leaves the tool in an export.

Replaced by ``[kind:hash]``, where hash is a keyed HMAC-SHA256 (12 hex digits) of the value, so
identical values still match across the report and with the tables (the rules and markers are
:mod:`timeline.normalize.redact`'s):

* prompt and completion text (whole fields), unless ``include_content``;
* e-mail addresses, phone numbers, payment card numbers (checked with Luhn), unless
  ``include_content``;
* credentials (auth and cookie headers, key/token/secret/password parameters, passwords in URLs,
  bearer tokens, JWTs, ``sk-``, ``AKIA``, ``ghp_``, ``xox?-``, ``AIza`` keys): always.
  Credentials never belong in a postmortem, and ``--include-content`` does not bring them back,
  even when the build kept them (``timeline build --keep-content``).

The salt is the build's secret salt when it can be known here: ``TIMELINE_SALT``, else the
installation's salt (:mod:`timeline.normalize.salt`). It is never written anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from timeline.normalize.redact import (
    ALL,
    CREDENTIALS,
    Mapper,
    luhn_ok,
    marker,
    scanner,
)
from timeline.normalize.salt import resolve_salt

__all__ = ["CONTENT_KEYS", "Redactor", "luhn_ok", "salt_for"]

CONTENT_KEYS: Final = frozenset({"prompt_text", "completion_text", "raw"})


@dataclass(frozen=True)
class Redactor:
    """Redacts strings and whole documents with one salt."""

    salt: bytes = field(repr=False)
    include_content: bool = False

    def token(self, kind: str, value: str) -> str:
        """``[kind:hash]`` for ``value``."""
        return marker(self.salt, kind, value)

    def text(self, value: str) -> str:
        """Redact credentials (always) and personal data (unless ``include_content``)."""
        scan = scanner(CREDENTIALS if self.include_content else ALL)
        return scan.sub(value, Mapper(self.salt).mark)

    def document(self, value: Any, key: str | None = None) -> Any:
        """A deep copy of ``value`` with every string redacted and content fields hashed."""
        if isinstance(value, str):
            if key in CONTENT_KEYS and not self.include_content:
                return self.token("content", value)
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(k)): self.document(v, str(k)) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.document(v, key) for v in value]
        return value


def salt_for(manifest: dict[str, Any]) -> bytes:
    """The salt of the report: ``TIMELINE_SALT``, else the installation's salt.

    ``manifest`` (build.json) is not a source: it holds no salt, only where the build's came from.
    A build with a custom ``--salt`` has its tables redacted with that salt; the report then marks
    the few strings it redacts itself with this one.
    """
    del manifest
    return resolve_salt(None).value
