"""moto's request dispatch (moto.core.responses): the per-request work that does not depend
on the request, done once.

Each patch names the moto behaviour it changes and why; tests/integration/test_moto_patches.py
checks each against the installed moto. None changes an answer: they change what each
request costs (every AWS call of every function and execution goes through here).
"""

from __future__ import annotations

import functools
import re
from typing import Any

from moto.core import responses as moto_responses
from moto.moto_api._internal import mock_random

from . import registry

_REQUEST_ID = re.compile(r"(?<=<RequestId>).*(?=<\/RequestId>)")


# 39. moto's call_action lists the response class's methods with inspect.getmembers on
#     every request (method_names_from_class), to see whether the action is implemented.
#     A class's methods are fixed once the patches are applied: list them once per class.
def _patch_method_names() -> None:
    original = registry.ORIGINALS["moto_responses.method_names_from_class"]

    @functools.cache
    def method_names(clazz: object) -> frozenset[str]:
        return frozenset(original(clazz))

    moto_responses.method_names_from_class = method_names  # type: ignore[assignment]


# 40. moto turns the action's name into a method name character by character on every
#     request (camelcase_to_underscores). The names are few: remember each.
def _patch_action_names() -> None:
    moto_responses.camelcase_to_underscores = functools.lru_cache(maxsize=2048)(
        registry.ORIGINALS["moto_responses.camelcase_to_underscores"]
    )


# 41. moto's _enrich_response draws a 52-character request id one random character at a
#     time, then runs a look-behind regex over the whole body (a JSON body too, where it
#     never matches). Draw the id as one 128-bit number from moto's own random source
#     (seedable, as before: 32 hex digits, like the ids AWS answers) and rewrite only a
#     body that has a `<RequestId>`.
def _patch_request_ids() -> None:
    original = registry.ORIGINALS["BaseResponse._enrich_response"]

    def enrich_response(headers: dict[str, Any], body: Any) -> tuple[dict[str, Any], Any]:
        if registry.ACTIVE is None:
            return original(headers, body)  # type: ignore[no-any-return]
        if "status" in headers:
            headers["status"] = str(headers["status"])
        request_id = f"{mock_random.getrandbits(128):032x}"
        headers["x-amzn-requestid"] = request_id
        if isinstance(body, str) and "<RequestId>" in body:
            body = _REQUEST_ID.sub(request_id, body)
        return headers, body

    moto_responses.BaseResponse._enrich_response = staticmethod(enrich_response)  # type: ignore[method-assign,assignment]


def apply() -> None:
    _patch_method_names()
    _patch_action_names()
    _patch_request_ids()
