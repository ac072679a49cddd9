"""moto's DynamoDB: serializable, as DynamoDB is.

Each patch names the moto behaviour it changes and why; tests/integration/test_moto_patches.py
checks each against the installed moto.
"""

from __future__ import annotations

import threading
from typing import Any

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.responses import DynamoHandler

from . import registry

# DynamoDBBackend operations that read or write items
ITEM_OPERATIONS = (
    "put_item",
    "get_item",
    "update_item",
    "delete_item",
    "query",
    "scan",
    "transact_write_items",
)
_LOCKS: dict[int, threading.RLock] = {}
_LOCKS_LOCK = threading.Lock()


def lock_of(backend: Any) -> threading.RLock:
    """One lock per account and region (a transaction may span its tables)."""
    with _LOCKS_LOCK:
        return _LOCKS.setdefault(id(backend), threading.RLock())


# 21. moto's item operations are not isolated from each other: TransactWriteItems deep-
#     copies each table it touches and, when cancelled, puts the copies back, undoing
#     every write made meanwhile by other requests (a lock taken, a record written),
#     and a copy taken while another thread writes fails with "dictionary changed size
#     during iteration". DynamoDB is serializable: hold one lock per account and region
#     around every item operation (an RLock: a transaction's own puts take it again),
#     and around TransactGetItems, which moto runs as several reads.
def _patch_serializable_items() -> None:
    def locked(name: str) -> Any:
        original = registry.ORIGINALS[f"DynamoDBBackend.{name}"]

        def method(self: DynamoDBBackend, *args: Any, **kwargs: Any) -> Any:
            with lock_of(self):
                return original(self, *args, **kwargs)

        method.__name__ = name
        return method

    for name in ITEM_OPERATIONS:
        setattr(DynamoDBBackend, name, locked(name))
    transact_get = registry.ORIGINALS["DynamoHandler.transact_get_items"]

    def transact_get_items(self: DynamoHandler) -> Any:
        with lock_of(self.dynamodb_backend):
            return transact_get(self)

    DynamoHandler.transact_get_items = transact_get_items  # type: ignore[method-assign]


def apply() -> None:
    _patch_serializable_items()
