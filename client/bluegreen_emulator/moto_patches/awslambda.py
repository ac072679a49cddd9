"""moto's Lambda: run the function's real handler instead of echoing the request.

Each patch names the moto behaviour it changes and why; tests/integration/test_moto_patches.py
checks each against the installed moto.
"""

import json
from typing import Any

from moto.awslambda_simple.models import LambdaSimpleBackend

from . import registry


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


def apply() -> None:
    _patch_lambda_invoke()
