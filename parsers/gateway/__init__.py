"""Built-in gateway-layer parsers: proxies, ingress controllers and LLM gateways."""

from __future__ import annotations

from parsers._spec import spec_parser
from parsers.gateway.envoy_json import EnvoyJsonParser
from parsers.gateway.envoy_text import EnvoyTextParser
from parsers.gateway.litellm import LiteLLMSpendLogParser
from parsers.gateway.nginx import NginxCombinedParser
from parsers.gateway.traefik import TraefikJsonParser
from timeline.parse.api import Parser

_ORIGIN = "built-in parsers.gateway"


def parsers() -> list[tuple[Parser, str]]:
    """The gateway parsers with their origins."""
    found: list[Parser] = [
        NginxCombinedParser(),
        EnvoyTextParser(),
        EnvoyJsonParser(),
        LiteLLMSpendLogParser(),
        TraefikJsonParser(),
    ]
    coded = [(p, f"{_ORIGIN}.{type(p).__module__.rsplit('.', 1)[-1]}") for p in found]
    return [*coded, spec_parser("nginx_json")]
