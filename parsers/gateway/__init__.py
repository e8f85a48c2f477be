"""Built-in gateway-layer parsers: proxies, ingress controllers and LLM gateways."""
