"""botocore (not moto): one service-model loader per process; SDK retry back-off on the
emulated clock.

Each patch names the moto behaviour it changes and why; tests/integration/test_moto_patches.py
checks each against the installed moto.
"""

import threading
from typing import Any

import botocore.loaders
import botocore.session
from botocore import endpoint as botocore_endpoint

from . import registry

# 16. Not moto: botocore gives every new Session its own Loader
#     (botocore.session.create_loader), which re-reads and re-parses the service model
#     JSON. On AWS each function's cold start pays that in its own process; here every
#     function of every emulated account would pay it again (~80 ms per client, ~1.5 s
#     per switch). While an emulator runs, sessions share one Loader per data path, so a
#     model is parsed once per process. What the functions do is unchanged.
_LOADERS: dict[Any, botocore.loaders.Loader] = {}
_LOADERS_LOCK = threading.Lock()


def _patch_botocore_loader() -> None:
    original = registry.ORIGINALS["botocore.session.create_loader"]

    def create_loader(search_path_string: Any = None) -> botocore.loaders.Loader:
        if registry.ACTIVE is None:
            return original(search_path_string)  # type: ignore[no-any-return]
        with _LOADERS_LOCK:
            if search_path_string not in _LOADERS:
                _LOADERS[search_path_string] = original(search_path_string)
            return _LOADERS[search_path_string]

    botocore.session.create_loader = create_loader  # type: ignore[assignment]


# botocore (not moto): the SDK retries a throttled or failed call after sleeping
# `time.sleep(delay)` in botocore.endpoint.Endpoint._needs_retry. Inside the emulated
# account that back-off is emulated time too, so a function retrying a call that the
# tests made fail takes no real seconds. Outside an emulator botocore sleeps as shipped.
def _patch_sdk_retry_backoff() -> None:
    botocore_endpoint.time = registry.ClockTime(registry.ORIGINALS["botocore.endpoint.time"])  # type: ignore[assignment]


def apply() -> None:
    _patch_botocore_loader()
    _patch_sdk_retry_backoff()
