"""moto's DynamoDB: serializable, and sized, as DynamoDB is.

Each patch names the moto behaviour it changes and why; tests/integration/test_moto_patches.py
checks each against the installed moto.
"""

from __future__ import annotations

import base64
import binascii
import copy
import threading
from collections.abc import Mapping
from typing import Any

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    ItemSizeTooLarge,
    ItemSizeToUpdateTooLarge,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
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


# 35. moto's item operations are not isolated from each other: TransactWriteItems deep-
#     copies each table it touches and, when cancelled, puts the copies back, undoing
#     every write made meanwhile by other requests (a lock taken, a record written),
#     and a copy taken while another thread writes fails with "dictionary changed size
#     during iteration". DynamoDB is serializable: hold one lock per account and region
#     around every item operation (an RLock: a transaction's own puts take it again),
#     and around TransactGetItems, which moto runs as several reads.
def _patch_serializable_items() -> None:
    def locked(name: str) -> Any:
        original = _SIZED.get(name, registry.ORIGINALS[f"DynamoDBBackend.{name}"])

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


# 28. DynamoDB's item size (Developer Guide, "DynamoDB item sizes and formats"; the
#     400 KB item quota, 409,600 bytes): the sum of every attribute's UTF-8 name length
#     and value size - a string its UTF-8 bytes, a number 1 byte per two significant
#     digits plus 1, a binary its raw bytes, a Boolean or null 1 byte, a List or Map 3
#     bytes plus 1 byte per element plus its elements (a Map element's name counted), a
#     set the sum of its elements. moto counts names and values without the overheads,
#     numbers by their text, and refuses above 405,000 (LimitedSizeDict.__setitem__);
#     an UpdateItem that grows a nested attribute is never checked, and one refused half
#     way is left half applied. Count as DynamoDB does; an UpdateItem too large is
#     refused whole ("Item size to update has exceeded the maximum allowed size"), a
#     PutItem too large with "Item size has exceeded the maximum allowed size".
MAX_ITEM_BYTES = 400 * 1024


def _utf8(text: str) -> int:
    return len(text.encode("utf-8"))


def _number_size(text: str) -> int:
    mantissa = str(text).lstrip("+-").lower().split("e", 1)[0].replace(".", "")
    digits = len(mantissa.strip("0"))
    return (digits + 1) // 2 + 1


def _binary_size(value: Any) -> int:
    if isinstance(value, bytes | bytearray):
        return len(value)
    try:
        return len(base64.b64decode(value, validate=True))
    except (binascii.Error, ValueError):
        return _utf8(str(value))


def _typed(value: Any) -> DynamoType:
    return value if isinstance(value, DynamoType) else DynamoType(value)


_SCALARS = {
    "S": _utf8,
    "N": _number_size,
    "B": _binary_size,
    "BOOL": lambda _: 1,
    "NULL": lambda _: 1,
}
_SETS = {"SS": "S", "NS": "N", "BS": "B"}


def value_size(value: Any) -> int:
    """The size DynamoDB counts for one attribute value (its name not included)."""
    typed = _typed(value)
    kind, inner = typed.type, typed.value
    if kind in _SCALARS:
        return _SCALARS[kind](inner)
    if kind in _SETS:
        return sum(_SCALARS[_SETS[kind]](v) for v in inner)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(1 + _utf8(k) + value_size(v) for k, v in inner.items())
    raise ValueError(f"unknown DynamoDB attribute type {kind!r}")


def item_size(attributes: Mapping[str, Any]) -> int:
    """The size DynamoDB counts for an item: every attribute's name and value."""
    return sum(_utf8(name) + value_size(value) for name, value in attributes.items())


def _patch_item_size() -> None:
    set_item = registry.ORIGINALS["LimitedSizeDict.__setitem__"]

    def setitem(self: LimitedSizeDict, key: str, value: Any) -> None:
        if registry.ACTIVE is None:
            set_item(self, key, value)
            return
        if item_size({**self, key: value}) > MAX_ITEM_BYTES:
            raise ItemSizeTooLarge
        dict.__setitem__(self, key, value)

    LimitedSizeDict.__setitem__ = setitem  # type: ignore[method-assign,assignment]


def _sized_update_item() -> Any:
    original = registry.ORIGINALS["DynamoDBBackend.update_item"]

    def update_item(
        self: DynamoDBBackend, table_name: str, key: Any, *args: Any, **kwargs: Any
    ) -> Any:
        if registry.ACTIVE is None:
            return original(self, table_name, key, *args, **kwargs)
        table = self.get_table(table_name)
        hash_value, range_value = self.get_keys_value(table, key)
        before = table.get_item(hash_value, range_value)
        saved = copy.deepcopy(before.attrs) if before is not None else None
        try:
            item = original(self, table_name, key, *args, **kwargs)
        except (ItemSizeTooLarge, ItemSizeToUpdateTooLarge):
            item = None
        if item is None or item_size(item.attrs) > MAX_ITEM_BYTES:
            _restore(table, hash_value, range_value, saved)
            raise ItemSizeToUpdateTooLarge
        return item

    return update_item


def _restore(table: Any, hash_value: Any, range_value: Any, saved: Any) -> None:
    """Put the item back as it was before a refused update (gone if it was new)."""
    current = table.get_item(hash_value, range_value)
    if saved is None:
        if current is not None:
            table.delete_item(hash_value, range_value)
        return
    if current is not None:
        current.attrs = saved


# 43. moto's TransactWriteItems deep-copies every table it touches before it starts, to
#     put the copies back if it is cancelled: every transaction, cancelled or not, pays
#     for the whole table (the switch table holds every record and lock, a record up to
#     hundreds of KB). Keep instead each item the transaction writes, as it was before
#     its first write, and put back only those when it is cancelled. What is refused,
#     and how (the cancellation reasons, a validation error raised as it is), is moto's.
_Slot = tuple[str, DynamoType, DynamoType | None]


def _transact_write_items() -> Any:
    original = registry.ORIGINALS["DynamoDBBackend.transact_write_items"]

    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        if registry.ACTIVE is None:
            original(self, transact_items)
            return
        if len(transact_items) > 100:
            raise TooManyTransactionsException()
        before: dict[_Slot, Item | None] = {}  # each item written, as it was
        seen: set[_Slot] = set()  # each item acted on (one action per item)
        try:
            errors = [_transact_one(self, entry, seen, before) for entry in transact_items]
        except (MultipleTransactionsException, MockValidationException):
            _put_back(self, before)
            raise
        if any(code is not None for code, _, _ in errors):
            _put_back(self, before)
            raise TransactionCanceledException(errors)

    return transact_write_items


_APPLIED = (None, None, None)
_ACTIONS = {"ConditionCheck", "Put", "Delete", "Update"}


def _transact_one(
    backend: DynamoDBBackend,
    entry: dict[str, Any],
    seen: set[_Slot],
    before: dict[_Slot, Item | None],
) -> tuple[Any, Any, Any]:
    """One action of a transaction, as moto's loop runs it: (None, None, None) when it
    was applied, else (code, message, item) for the cancellation reasons; two actions on
    one item, or an invalid key, cancel the whole transaction at once."""
    if len(entry) > 1:
        raise TransactWriteSingleOpException
    try:
        op_type, op = next(iter(entry.items()))
        return _act(backend, op_type, op, seen, before)
    except (MultipleTransactionsException, MockValidationException):
        raise
    except ConditionalCheckFailed as e:
        return ("ConditionalCheckFailed", str(e.message), None)
    except Exception as e:  # noqa: BLE001 - moto reports any other failure as a reason
        return (type(e).__name__, str(e), None)


def _act(
    backend: DynamoDBBackend,
    op_type: str,
    op: dict[str, Any],
    seen: set[_Slot],
    before: dict[_Slot, Item | None],
) -> tuple[Any, Any, Any]:
    if op_type not in _ACTIONS:
        raise ValueError("Unsupported transaction operation")
    table = backend.get_table(op["TableName"])
    if op_type == "Put":
        attrs = op["Item"]
        key = {name: attrs[name] for name in (table.hash_key_attr, table.range_key_attr) if name}
    else:
        key = op["Key"]
    hash_value, range_value = backend.get_keys_value(table, key)
    slot = (op["TableName"], hash_value, range_value)
    if slot in seen:
        raise MultipleTransactionsException()
    seen.add(slot)
    current = table.get_item(hash_value, range_value)
    names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
    condition = op.get("ConditionExpression")
    if condition is not None and not get_filter_expression(condition, names, values).expr(current):
        all_old = op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD"
        old = current.to_json()["Attributes"] if all_old and current else None
        return ("ConditionalCheckFailed", ConditionalCheckFailed().message, old)
    if op_type == "ConditionCheck":
        return _APPLIED
    before[slot] = copy.deepcopy(current)
    written: dict[str, Any] = {
        "condition_expression": condition,
        "expression_attribute_names": names,
        "expression_attribute_values": values,
    }
    if op_type == "Put":
        backend.put_item(op["TableName"], op["Item"], **written)
    elif op_type == "Delete":
        backend.delete_item(op["TableName"], key, **written)
    else:
        update = op["UpdateExpression"]
        backend.update_item(op["TableName"], key, update_expression=update, **written)
    return _APPLIED


def _put_back(backend: DynamoDBBackend, before: dict[_Slot, Item | None]) -> None:
    """Every item a cancelled transaction wrote, back as it was (gone if it was new)."""
    for (table_name, hash_value, range_value), item in before.items():
        table = backend.get_table(table_name)
        if item is None:
            table.delete_item(hash_value, range_value)
            if range_value is not None and not table.items.get(hash_value, True):
                del table.items[hash_value]  # no empty group left behind
        elif range_value is not None:
            table.items[hash_value][range_value] = item
        else:
            table.items[hash_value] = item  # type: ignore[assignment] # moto's own annotation


# DynamoDBBackend methods whose sized version the account lock wraps
_SIZED: dict[str, Any] = {}


def apply() -> None:
    _patch_item_size()
    _SIZED["update_item"] = _sized_update_item()
    _SIZED["transact_write_items"] = _transact_write_items()
    _patch_serializable_items()
