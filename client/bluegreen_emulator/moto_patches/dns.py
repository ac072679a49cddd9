"""Name resolution: an emulated ALB's DNS name reaches the emulator's HTTP server for it.

Each patch names the moto behaviour it changes and why; tests/integration/test_moto_patches.py
checks each against the installed moto.
"""

import socket
from typing import Any

from . import registry


# 11. moto's load balancers have DNS names that resolve nowhere. Resolve an emulated
#     ALB's name (socket.getaddrinfo) to the emulator's local HTTP server for that
#     listener (alb_http.py), so probes reach "the tasks behind the listener" through
#     the same URL they would use on AWS. Every other name resolves as before.
def _patch_alb_dns() -> None:
    original = registry.ORIGINALS["socket.getaddrinfo"]

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        alb = getattr(registry.ACTIVE, "alb_http", None) if registry.ACTIVE is not None else None
        if alb is not None and isinstance(host, str) and host.endswith(".elb.amazonaws.com"):
            local = alb.resolve(host, port)
            if local is not None:
                return original("127.0.0.1", local, *args, **kwargs)
        return original(host, port, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo


def apply() -> None:
    _patch_alb_dns()
