"""Redaction of every string that leaves the tool in an export.

Replaced by ``[kind:hash]``, where hash is a salted HMAC-SHA256 (12 hex digits) of the value,
so identical values still match across the report:

* prompt and completion text (whole fields), unless ``include_content``;
* e-mail addresses, phone numbers, payment card numbers (checked with Luhn), unless
  ``include_content``;
* API keys and tokens (``sk-...``, ``AKIA...``, bearer tokens, JWTs): always. Credentials never
  belong in a postmortem, and ``--include-content`` does not bring them back.

The salt is ``TIMELINE_SALT`` when set, else derived from the input hashes in build.json (as the
prompt hashes are); it is never written anywhere.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from timeline.normalize.content import default_salt

CONTENT_KEYS: Final = frozenset({"prompt_text", "completion_text", "raw"})

_SECRET_PATTERNS: Final[tuple[tuple[str, re.Pattern[str]], ...]] = (
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}")),
    ("token", re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}")),
    ("api_key", re.compile(r"\bsk-[A-Za-z0-9_-]{16,}")),
    ("api_key", re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")),
)
_EMAIL: Final = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_CARD: Final = re.compile(r"(?<![0-9A-Za-z])(?:\d[ -]?){12,18}\d(?![0-9A-Za-z])")
_INTL_PHONE: Final = re.compile(r"(?<![\w+])\+\d{1,3}(?:[ .-]\d{1,4}){2,5}(?![\w-])")
_PHONE: Final = re.compile(
    r"(?<![\w.:/-])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?|\d{3}[ .-])\d{3}[ .-]\d{4}(?![\w-])"
)


def luhn_ok(digits: str) -> bool:
    """True when ``digits`` (only 0-9) passes the Luhn check."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


@dataclass(frozen=True)
class Redactor:
    """Redacts strings and whole documents with one salt."""

    salt: bytes
    include_content: bool = False

    def token(self, kind: str, value: str) -> str:
        """``[kind:hash]`` for ``value``."""
        digest = hmac.new(self.salt, value.encode("utf-8"), hashlib.sha256).hexdigest()[:12]
        return f"[{kind}:{digest}]"

    def _sub(self, kind: str) -> Callable[[re.Match[str]], str]:
        return lambda m: self.token(kind, m.group(0))

    def _card(self, m: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", m.group(0))
        if 13 <= len(digits) <= 19 and luhn_ok(digits):
            return self.token("card", digits)
        return m.group(0)

    def _intl(self, m: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", m.group(0))
        return self.token("phone", m.group(0)) if 8 <= len(digits) <= 15 else m.group(0)

    def text(self, value: str) -> str:
        """Redact secrets (always) and personal data (unless ``include_content``) in ``value``."""
        for kind, pattern in _SECRET_PATTERNS:
            value = pattern.sub(self._sub(kind), value)
        if self.include_content:
            return value
        value = _EMAIL.sub(self._sub("email"), value)
        value = _CARD.sub(self._card, value)
        value = _INTL_PHONE.sub(self._intl, value)
        return _PHONE.sub(self._sub("phone"), value)

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
    """``TIMELINE_SALT``, else a salt derived from the input hashes in build.json."""
    env = os.environ.get("TIMELINE_SALT")
    if env:
        return env.encode("utf-8")
    return default_salt(str(i.get("sha256", "")) for i in manifest.get("inputs", []))
