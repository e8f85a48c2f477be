"""Line shapes of a LiteLLM proxy's output: its loggers (text and JSON), uvicorn, gunicorn, tracebacks.

Every pattern is applied with polars (``str.extract_groups`` / ``str.contains``) after ANSI colour
codes are removed, so the parser stays vectorized.
"""

from __future__ import annotations

from typing import Final

# ``litellm/_logging.py``: ``%(asctime)s - %(name)s:%(levelname)s: %(filename)s:%(lineno)s -
# %(message)s`` with ``datefmt="%H:%M:%S"`` (a time without a date), the prefix coloured with
# ``\033[92m ... \033[0m`` on a terminal. Loggers: ``LiteLLM``, ``LiteLLM Proxy``,
# ``LiteLLM Router``, ``LiteLLM Proxy.stdout``. A date is accepted when a custom ``datefmt`` gives one.
LITELLM: Final = (
    r"^(?:(?P<date>\d{4}-\d{2}-\d{2})[ T])?(?P<time>\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?)"
    r" - (?P<logger>LiteLLM(?:[ .][\w.-]+)*):(?P<level>DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL): "
    r"(?P<file>[^\s:]+):(?P<lineno>\d+)(?: -(?: (?P<msg>.*))?)?$"
)
# The same header as a regex for ``record_start`` (ANSI codes may precede it).
LITELLM_START: Final = (
    r"^(?:\x1b\[[0-9;]*m)*(?:\d{4}-\d{2}-\d{2}[ T])?\d{2}:\d{2}:\d{2}(?:[.,]\d+)?"
    r" - LiteLLM[^:]*:(?:DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL)"
)

# uvicorn's default and access formatters: ``INFO:     msg`` (the level padded to 10 characters).
UVICORN: Final = r"^(?P<ulevel>DEBUG|INFO|WARNING|ERROR|CRITICAL):\s+(?P<umsg>.*)$"
UVICORN_START: Final = (
    r"^(?:\x1b\[[0-9;]*m)*(?:DEBUG|INFO|WARNING|ERROR|CRITICAL)(?:\x1b\[[0-9;]*m)*:\s"
)

# gunicorn (``litellm --run_gunicorn``): ``[2025-03-02 10:15:04 +0000] [7] [INFO] Booting worker``.
GUNICORN: Final = (
    r"^\[(?P<gts>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?: [+-]\d{4})?)\] \[(?P<gpid>\d+)\] "
    r"\[(?P<glevel>[A-Z]+)\] (?P<gmsg>.*)$"
)
GUNICORN_START: Final = (
    r"^\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?: [+-]\d{4})?\] \[\d+\] \[[A-Z]+\] "
)

# ``JSON_LOGS=True``: ``JsonFormatter`` writes ``{"message": ..., "level": ..., "timestamp": ...}``
# (the message first), newer versions add ``component``, ``logger``, ``stacktrace`` and more.
JSON_START: Final = r'^\{\s*"message"\s*:'

# uvicorn access: ``127.0.0.1:5000 - "POST /chat/completions HTTP/1.1" 200 OK`` (the reason phrase
# only in the text formatter), and WebSocket handshakes ``('127.0.0.1', 5300) - "WebSocket /p" 403``.
ACCESS: Final = (
    r'^(?P<client>\S+?):(?P<port>\d+) - "(?P<method>[A-Z]+) (?P<target>\S*) '
    r'(?P<proto>HTTP/[\d.]+)" (?P<status>\d{3})(?: (?P<reason>.*))?$'
)
WEBSOCKET: Final = (
    r"^\('(?P<wsclient>[^']*)', (?P<wsport>\d+)\) - \"WebSocket (?P<wstarget>[^\"\s]*)\" "
    r"(?P<wsstatus>\d{3})"
)

TRACEBACK: Final = r"^\s*(?:\+\s+)?(?:Exception Group )?Traceback \(most recent call last\):\s*$"

# What the proxy prints (not logs) at startup: the boxed banner and its thank-you lines.
BANNER: Final = (
    r"^#[-= ]*#$"
    r"|^#\s.*\s#$"
    r"|^\s*Thank you for using LiteLLM!"
    r"|^\s*Give Feedback / Get Help: https://github\.com/BerriAI/litellm"
    r"|^\s*LiteLLM\.Info: If you need to debug this error"
)

# ``CorrelationPlainFormatter`` appends `` [trace_id=... session_id=...]`` to the record's text
# (after the traceback, when there is one).
CORRELATION: Final = r"\s\[(?:trace_id=(?P<trace>\S+?))?(?:\s?session_id=(?P<session>\S+?))?\]\s*$"

# Router (``litellm/router.py``): one line per call to a deployment.
ROUTER_CALL: Final = (
    r"^litellm\.(?P<call>\w+)\(model=(?P<rmodel>[^)]*)\)\s*"
    r"(?:(?P<ok>200 OK)|Exception\s*(?P<rexc>.*))$"
)
FALLBACK: Final = r"^Falling back to model_group\s*=\s*(?P<fallback>[^\s,]+)"
FALLBACK_DONE: Final = r"^Successful fallback b/w models"
FALLBACK_TRY: Final = r"^Trying to fallback b/w models"
COOLDOWN_ADD: Final = r"^Attempting to add (?P<cooldown_deployment>\S+?) to cooldown list"
NO_DEPLOYMENT: Final = r"No (?:deployments|healthy deployment) available"
RETRY_IN: Final = r"Try again in (\d+(?:\.\d+)?) seconds"
PASSED_MODEL: Final = r"Passed model=(\S+?)\.?(?:\s|$)"
MODEL_GROUP: Final = r"Received Model Group=(\S+)"
SELECTED: Final = r"^get_available_deployment for model: (\S+?), Selected deployment:"

# The proxy's request handlers: ``litellm.proxy.proxy_server.chat_completion(): Exception occured - e``.
PROXY_EXCEPTION: Final = (
    r"^(?P<handler>litellm\.proxy\.[\w.]+)\(\): Exception occ?urr?ed - (?P<pexc>.*)$"
)
CLIENT_DISCONNECT: Final = r"client disconnected, upstream LLM request cancelled"

# An exception class as LiteLLM and its providers print it: ``litellm.RateLimitError:``,
# ``litellm.exceptions.Timeout:``, ``openai.AuthenticationError:``, ``httpx.ReadTimeout``.
EXCEPTION_CLASS: Final = (
    r"(?:^|[\s(\[])((?:[A-Za-z_]\w*\.)+(?:[A-Z]\w*)?(?:Error|Exception|Timeout|Exceeded)\w*)"
    r"(?::|\s|$)"
)
# A status the message gives: ``Error code: 429``, ``status_code: 503``, ProxyException ``400: ...``.
STATUS_IN_TEXT: Final = r"(?i)(?:error code|status[_ ]code)\s*[:=]\s*(\d{3})\b"
PROXY_STATUS: Final = r"^(\d{3}): "

# ``litellm_call_id`` / ``x-litellm-call-id`` as messages print them (dict reprs, headers, k=v).
CALL_ID: Final = (
    r"""(?:litellm_call_id|x-litellm-call-id)['"]?\s*[:=]\s*['"]?([0-9A-Za-z][\w.-]{7,})"""
)

STARTUP: Final = r"^(?:Uvicorn running on \S+|Starting gunicorn \S+|Application startup complete)"

# Provider prefixes of LiteLLM model strings (``azure/gpt-4o``), from ``LlmProviders``.
PROVIDERS: Final = (
    "openai",
    "text-completion-openai",
    "custom_openai",
    "azure",
    "azure_ai",
    "azure_text",
    "anthropic",
    "bedrock",
    "sagemaker",
    "sagemaker_chat",
    "vertex_ai",
    "vertex_ai_beta",
    "gemini",
    "cohere",
    "cohere_chat",
    "mistral",
    "codestral",
    "groq",
    "together_ai",
    "fireworks_ai",
    "ollama",
    "ollama_chat",
    "huggingface",
    "replicate",
    "openrouter",
    "deepseek",
    "perplexity",
    "xai",
    "hosted_vllm",
    "vllm",
    "databricks",
    "watsonx",
    "cerebras",
    "sambanova",
    "ai21",
    "ai21_chat",
    "nvidia_nim",
    "cloudflare",
    "anyscale",
    "deepinfra",
    "friendliai",
    "lm_studio",
    "litellm_proxy",
    "github",
    "triton",
    "predibase",
    "nlp_cloud",
    "aleph_alpha",
    "clarifai",
    "voyage",
    "jina_ai",
    "dashscope",
    "moonshot",
    "volcengine",
    "novita",
    "nscale",
    "meta_llama",
    "oci",
    "snowflake",
    "infinity",
    "text-completion-codestral",
    "empower",
    "galadriel",
    "topaz",
)

# Lines a LiteLLM text record really continues with, besides indented and traceback-shaped lines
# (``timeline.parserkit.tracebacks.CONTINUATION_RE``): the closing brackets of a pretty-printed dict
# or JSON body, and the tails LiteLLM appends to its exception messages with ``\n``
# (``router.py``: ``Received Model Group=...\nAvailable Model Group Fallbacks=...``, the retry and
# fallback sentences) and the ``curl`` command its debug logger prints (``Request Sent from
# LiteLLM:\ncurl -X POST \\`` ...). Any other line after a record is foreign and rejected.
LITELLM_TAIL: Final = (
    r"^(?:[\[\]{}()]+[,;]?\s*$"
    r"|Received Model Group="
    r"|Available Model Group Fallbacks="
    r"|Fallback also failed:"
    r"|No fallback model group found"
    r"|Error doing the fallback:"
    r"|(?:LiteLLM )?Retried: \d+ times?"
    r"|LiteLLM Max Retries: \d"
    r"|curl -X [A-Z]+ "
    r")"
)
