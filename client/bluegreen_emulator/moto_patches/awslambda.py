"""moto's Lambda: run the function's real handler instead of echoing the request, within
Lambda's payload quotas.

Each patch names the moto behaviour it changes and why; tests/integration/test_moto_patches.py
checks each against the installed moto.
"""

import json
from typing import Any
from urllib.parse import unquote

from moto.awslambda.responses import LambdaResponse
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core.exceptions import JsonRESTError
from moto.utilities.aws_headers import amz_crc32

from . import registry

# Lambda Developer Guide, "Lambda quotas": invocation payload (request and response),
# 6 MB synchronous, 1 MB asynchronous. The synchronous request limit is 6,291,456 bytes
# ("Request must be smaller than 6291456 bytes for the InvokeFunction operation"); the
# response limit is the one Lambda's own error names (6,291,556 bytes).
SYNC_REQUEST_BYTES = 6 * 1024 * 1024
SYNC_RESPONSE_BYTES = 6_291_556
ASYNC_REQUEST_BYTES = 1024 * 1024
RESPONSE_TOO_LARGE = {
    "errorMessage": "Response payload size exceeded maximum allowed payload size "
    f"({SYNC_RESPONSE_BYTES} bytes).",
    "errorType": "Function.ResponseSizeTooLarge",
}


class RequestEntityTooLarge(JsonRESTError):
    code = 413

    def __init__(self, message: str) -> None:
        super().__init__("RequestEntityTooLargeException", message)


# 4. With {"lambda": {"use_docker": False}}, moto answers every invoke with the request
#    body (LambdaSimpleBackend.invoke). Run the function's real handler instead.
def _patch_lambda_invoke() -> None:
    original = registry.ORIGINALS["LambdaSimpleBackend.invoke"]

    def invoke(
        self: LambdaSimpleBackend,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: Any,
    ) -> bytes | None:
        if registry.ACTIVE is None:
            return original(self, function_name, qualifier, body, headers, response_headers)  # type: ignore[no-any-return]
        event = json.loads(body) if body else {}
        invocation_type = (headers or {}).get("X-Amz-Invocation-Type", "RequestResponse")
        if invocation_type == "DryRun":
            return b""
        if invocation_type == "Event":
            registry.ACTIVE.runtime.invoke_async(function_name, event)
            return b""
        result = registry.ACTIVE.runtime.invoke(function_name, event)
        if result.error_type is not None:
            response_headers["x-amz-function-error"] = "Unhandled"
        return result.payload

    LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign]


# 29. moto's Invoke takes any request, and replaces a response by the size error from
#     about 6,000,000 bytes (LambdaResponse.invoke measures sys.getsizeof). Lambda
#     refuses a synchronous request over 6,291,456 bytes and an asynchronous one over
#     1 MB with RequestEntityTooLargeException (HTTP 413), and answers a response over
#     6,291,556 bytes with a function error `Function.ResponseSizeTooLarge` (HTTP 200).
def _patch_invoke_payload_quotas() -> None:
    original = registry.ORIGINALS["LambdaResponse.invoke"]

    @amz_crc32  # type: ignore[misc]
    def invoke(self: LambdaResponse) -> tuple[int, dict[str, str], str | bytes]:
        if registry.ACTIVE is None:
            return original(self)  # type: ignore[no-any-return]
        invocation_type = self.headers.get("X-Amz-Invocation-Type") or "RequestResponse"
        _refuse_large_request(_size(self.body), invocation_type)
        headers: dict[str, str] = {}
        function_name = unquote(self.path.rsplit("/", 2)[-2])
        payload = self.backend.invoke(
            function_name, self._get_param("qualifier"), self.body, self.headers, headers
        )
        if payload is None:
            return 404, headers, "{}"
        headers["content-type"] = "application/json"
        headers.pop("x-amz-log-result", None)
        if invocation_type == "Event":
            return 202, {**headers, "status": "202"}, payload
        if invocation_type == "DryRun":
            return 204, {**headers, "status": "204"}, payload
        if _size(payload) > SYNC_RESPONSE_BYTES:
            headers["x-amz-function-error"] = "Unhandled"
            payload = json.dumps(RESPONSE_TOO_LARGE).encode()
        return 200, headers, payload

    LambdaResponse.invoke = invoke  # type: ignore[method-assign]


def _size(body: Any) -> int:
    if body is None:
        return 0
    return len(body.encode("utf-8") if isinstance(body, str) else body)


def _refuse_large_request(size: int, invocation_type: str) -> None:
    if invocation_type == "Event" and size > ASYNC_REQUEST_BYTES:
        raise RequestEntityTooLarge(
            f"{size} byte payload is too large for the Event invocation type "
            f"(limit {ASYNC_REQUEST_BYTES} bytes)"
        )
    if invocation_type != "Event" and size > SYNC_REQUEST_BYTES:
        raise RequestEntityTooLarge(
            f"Request must be smaller than {SYNC_REQUEST_BYTES} bytes for the InvokeFunction "
            "operation"
        )


def apply() -> None:
    _patch_lambda_invoke()
    _patch_invoke_payload_quotas()
