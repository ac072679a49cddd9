"""KMS: key material is made when a key is first used, not when it is created.

Each patch names the moto behaviour it changes and why; tests/integration/test_moto_patches.py
checks each against the installed moto.
"""

import threading
from typing import Any

from moto.kms import models as kms_models

from . import registry


# 36. moto's `Key.__init__` generates an RSA-2048 private key for every key, a symmetric
#     one included (~65 ms of CPU each), and moto creates such keys on its own: the
#     default encryption keys of DynamoDB tables and EBS. Nothing uses them unless a
#     caller signs, verifies or asks for the public key. Generate the key pair on first
#     use instead: same key spec, same behaviour, without the cost in every account.
class LazyPrivateKey:
    def __init__(self, key_spec: str) -> None:
        self.key_spec = key_spec
        self._key: Any = None
        self._lock = threading.Lock()

    def generated(self) -> Any:
        with self._lock:
            if self._key is None:
                self._key = registry.ORIGINALS["kms_models.generate_private_key"](self.key_spec)
            return self._key

    def __getattr__(self, name: str) -> Any:
        return getattr(self.generated(), name)


def apply() -> None:
    kms_models.generate_private_key = LazyPrivateKey  # type: ignore[assignment]
