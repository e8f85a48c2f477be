"""Field names of Azure Monitor resource logs for Azure OpenAI and API Management, with aliases.

The storage-account / Event Hub export writes the common top-level schema in camelCase (``time``,
``resourceId``, ``category``, ``operationName``, ``resultType``, ``resultSignature``,
``durationMs``, ``callerIpAddress``, ``correlationId``, ``location``, ``properties``); an export of
a Log Analytics table uses the table's PascalCase columns (``TimeGenerated``, ``_ResourceId``,
``Category``, ``CallerIPAddress``, ``properties_s`` in ``AzureDiagnostics``; the resource-specific
``ApiManagementGatewayLogs`` / ``ApiManagementGatewayLlmLog`` tables have the properties as
columns: ``Method``, ``Url``, ``ResponseCode``, ``TotalTime``, ``PromptTokens`` ...). Each canonical
field reads the first alias present.
"""

from __future__ import annotations

from typing import Final

# Top-level fields of a record (the Azure Monitor common schema).
TOP: Final[dict[str, tuple[str, ...]]] = {
    "time": ("time", "TimeGenerated", "timeGenerated"),
    "resource_id": ("resourceId", "ResourceId", "_ResourceId"),
    "category": ("category", "Category", "Type"),
    "operation": ("operationName", "OperationName"),
    "operation_version": ("operationVersion", "OperationVersion"),
    "result_type": ("resultType", "ResultType"),
    "result_signature": ("resultSignature", "ResultSignature"),
    "result_description": ("resultDescription", "ResultDescription"),
    "duration": ("durationMs", "DurationMs"),
    "caller_ip": ("callerIpAddress", "CallerIpAddress", "CallerIPAddress"),
    "correlation_id": ("correlationId", "CorrelationId"),
    "location": ("location", "Location"),
    "level": ("level", "Level"),
    "is_success": ("isRequestSuccess", "IsRequestSuccess"),
}
# Where the properties are: an object, or the same object serialized as a JSON string.
PROPERTIES: Final = ("properties", "Properties", "properties_s")

# Fields inside ``properties`` (or columns of a resource-specific Log Analytics table).
PROPS: Final[dict[str, tuple[str, ...]]] = {
    # Azure OpenAI / Cognitive Services RequestResponse
    "api_name": ("apiName", "ApiName"),
    "request_time": ("requestTime", "RequestTime"),
    "response_time": ("responseTime", "ResponseTime"),
    "request_length": ("requestLength", "RequestLength"),
    "response_length": ("responseLength", "ResponseLength"),
    "object_id": ("objectId", "ObjectId"),
    "stream_type": ("streamType", "StreamType"),
    "deployment": ("modelDeploymentName", "deploymentName", "DeploymentName"),
    "model": ("modelName", "ModelName"),
    "model_version": ("modelVersion", "ModelVersion"),
    # API Management GatewayLogs
    "method": ("method", "Method"),
    "url": ("url", "Url"),
    "response_code": ("responseCode", "ResponseCode"),
    "response_size": ("responseSize", "ResponseSize"),
    "request_size": ("requestSize", "RequestSize"),
    "backend_method": ("backendMethod", "BackendMethod"),
    "backend_url": ("backendUrl", "BackendUrl"),
    "backend_code": ("backendResponseCode", "BackendResponseCode"),
    "backend_protocol": ("backendProtocol", "BackendProtocol"),
    "backend_time": ("backendTime", "BackendTime"),
    "backend_id": ("backendId", "BackendId"),
    "client_time": ("clientTime", "ClientTime"),
    "client_protocol": ("clientProtocol", "ClientProtocol"),
    "client_tls": ("clientTlsVersion", "ClientTlsVersion"),
    "total_time": ("TotalTime", "totalTime"),
    "cache": ("cache", "Cache"),
    "api_id": ("apiId", "ApiId"),
    "api_revision": ("apiRevision", "ApiRevision"),
    "operation_id": ("operationId", "OperationId"),
    "product_id": ("productId", "ProductId"),
    "user": ("userId", "UserId"),
    "subscription": ("apimSubscriptionId", "ApimSubscriptionId"),
    "last_error_reason": ("LastErrorReason",),
    "last_error_message": ("LastErrorMessage",),
    "last_error_source": ("LastErrorSource",),
    "last_error_section": ("LastErrorSection",),
    "last_error_scope": ("LastErrorScope",),
    "last_error_elapsed": ("LastErrorElapsed",),
    # API Management GatewayLlmLogs
    "api_version": ("apiVersion", "ApiVersion"),
    "request_id": ("requestId", "RequestId"),
    "prompt_tokens": ("promptTokens", "PromptTokens"),
    "completion_tokens": ("completionTokens", "CompletionTokens"),
    "total_tokens": ("totalTokens", "TotalTokens"),
    "cached_tokens": ("promptCachedTokens", "PromptCachedTokens"),
    "stream": ("isStreamCompletion", "IsStreamCompletion"),
    "sequence": ("sequenceNumber", "SequenceNumber"),
    "region": ("region", "Region"),
    "correlation_id": ("correlationId", "CorrelationId"),
    # Trace records
    "message": ("message", "Message"),
}
# ``lastError`` is an object in the storage export: its fields are read one by one.
LAST_ERROR: Final = ("reason", "message", "source", "section", "scope", "elapsed")
LAST_ERROR_KEYS: Final = ("lastError", "LastError")

# Prompt and completion texts: content columns only (never attributes).
CONTENT: Final[dict[str, tuple[str, ...]]] = {
    "request_messages": ("requestMessages", "RequestMessages"),
    "response_messages": ("responseMessages", "ResponseMessages"),
    "request_body": ("requestBody", "RequestBody"),
    "response_body": ("responseBody", "ResponseBody"),
    "backend_request_body": ("backendRequestBody", "BackendRequestBody"),
    "backend_response_body": ("backendResponseBody", "BackendResponseBody"),
}

# Every name a top-level field or a property field may have.
TOP_NAMES: Final = tuple(
    dict.fromkeys([k for names in TOP.values() for k in names] + list(PROPERTIES))
)
PROP_NAMES: Final = tuple(
    dict.fromkeys(
        [k for names in PROPS.values() for k in names]
        + [k for names in CONTENT.values() for k in names]
    )
)

# The keys the mapping reads, at the top of a record (Log Analytics rows have the properties
# there) and inside ``properties``: every other key goes to ``attributes``.
TOP_MAPPED: Final = frozenset(TOP_NAMES + PROP_NAMES + LAST_ERROR_KEYS)
PROP_MAPPED: Final = frozenset(PROP_NAMES + LAST_ERROR_KEYS)

# Categories, compared lowercased (Log Analytics ``Type`` values included).
REQUEST_RESPONSE: Final = ("requestresponse", "azureopenairequestusage")
GATEWAY: Final = ("gatewaylogs", "apimanagementgatewaylogs")
GATEWAY_LLM: Final = ("gatewayllmlogs", "apimanagementgatewayllmlog")

# Azure Monitor ``Level``: numbers (1 critical .. 5 verbose) or names.
LEVELS: Final = {
    "1": "FATAL",
    "2": "ERROR",
    "3": "WARN",
    "4": "INFO",
    "5": "DEBUG",
    "critical": "FATAL",
    "error": "ERROR",
    "warning": "WARN",
    "informational": "INFO",
    "information": "INFO",
    "verbose": "DEBUG",
}
