"""botocore (not moto): one service-model loader, one endpoint rule set per service and
one TLS context per process; SDK retry back-off on the emulated clock.

Each patch names the moto behaviour it changes and why; tests/integration/test_moto_patches.py
checks each against the installed moto.
"""

import threading
from typing import Any

import botocore.httpsession
import botocore.loaders
import botocore.regions
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


# 37. Not moto: every botocore client builds its service's endpoint rule set into objects
#     (botocore.regions.EndpointProvider: ~5 ms for DynamoDB's), and every function of
#     every emulated account creates its own clients. The rule data come from the shared
#     Loader (patch 16) and the built rules are never changed, so while an emulator runs
#     clients of one service share one EndpointProvider. Endpoints resolve as before.
_PROVIDERS: dict[tuple[int, int, Any], tuple[Any, Any, Any]] = {}


def _patch_endpoint_provider() -> None:
    original = registry.ORIGINALS["botocore.regions.EndpointProvider"]

    def provider(ruleset_data: Any, partition_data: Any, excluded_params: Any = None) -> Any:
        if registry.ACTIVE is None:
            return original(ruleset_data, partition_data, excluded_params)
        excluded = frozenset(excluded_params) if excluded_params is not None else None
        key = (id(ruleset_data), id(partition_data), excluded)
        with _LOADERS_LOCK:
            if key not in _PROVIDERS:  # the data are kept with it, so their ids stay theirs
                built = original(ruleset_data, partition_data, excluded_params)
                _PROVIDERS[key] = (built, ruleset_data, partition_data)
            return _PROVIDERS[key][0]

    botocore.regions.EndpointProvider = provider  # type: ignore[assignment,misc]


# 38. Not moto: every botocore client creates a TLS context (URLLib3Session._get_ssl_context,
#     ~3 ms of OpenSSL setup) that no call to the emulated account uses (moto answers
#     before anything is sent). While an emulator runs, clients share one, made by
#     botocore's own function; a proxy's context is still made per proxy.
_TLS: list[Any] = []


def _patch_tls_context() -> None:
    original = registry.ORIGINALS["URLLib3Session._get_ssl_context"]

    def get_ssl_context(self: Any) -> Any:
        if registry.ACTIVE is None:
            return original(self)
        with _LOADERS_LOCK:
            if not _TLS:
                _TLS.append(original(self))
            return _TLS[0]

    botocore.httpsession.URLLib3Session._get_ssl_context = get_ssl_context  # type: ignore[method-assign]


def apply() -> None:
    _patch_botocore_loader()
    _patch_sdk_retry_backoff()
    _patch_endpoint_provider()
    _patch_tls_context()
