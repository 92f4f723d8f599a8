"""Emulator tuning for moto's DynamoDB (the local stack, tests and benchmarks; never deployed): the same
answers at a fraction of the cost. Measured with bench/bulk.py; see docs/performance.md.

moto 5.2 serializes every response by walking the botocore output shape value by value. For DynamoDB
items that costs ~2 ms per job item (a job holds a timeline, parameters and measures), so a 100-job list
page spent ~200 ms and a 20,000-job snapshot ~40 s in serialization alone. Here the members that hold
items (`Item`, `Attributes`, `Items`, `LastEvaluatedKey`, the `Responses` of BatchGetItem and
TransactGetItems) are encoded directly as DynamoDB JSON, the wire format they have anyway; everything else
in the response still goes through moto's serializer, so headers, status codes and errors are moto's own.
tests/unit/test_moto_speedups.py checks the output is the same as moto's, member for member.

moto also parses an UpdateExpression twice per UpdateItem (~1 ms each for a job's state change). The parsed
tree is only read (validation works on a deep copy), and a service sends the same few expression texts
with different values, so parsed trees are kept by text.

And moto backs up, before every TransactWriteItems, a deep copy of each whole table the transaction names,
to put back if it is cancelled: a job claim or end copied the 20,000-job table (seconds), and a write made
by another request meanwhile was lost on rollback, or broke the copy (an HTTP 500). Here the backup is of
the items the transaction names, and a rollback puts back exactly those.

moto measures every item it returns (`Item.size()`, twice per item, for the 1 MB page), recursively and
rebuilding each nested value: ~40% of a query's time. An item's size is kept on the item until a write
changes it in place (moto's `update_item`, also inside transactions, mutates the stored item; puts,
deletes and rollbacks store new objects). A new item is measured once, not once per attribute it is built
with (moto's attribute map re-measures the whole item on every insertion: a third of a put's time). And
every Query and Scan deep-copies the items it returns, then only reads the copies (projections build new
items): the stored items are returned instead.

`install_for_server` adds one fix for a moto server process: its request routing no longer lists moto's
package folders on disk for every request.
"""
from __future__ import annotations

import base64
import copy
import json
import threading
from collections.abc import Iterable
from typing import Any

ITEM_MEMBERS = {
    "GetItem": {"Item": "map"},
    "PutItem": {"Attributes": "map"},
    "UpdateItem": {"Attributes": "map"},
    "DeleteItem": {"Attributes": "map"},
    "Query": {"Items": "list", "LastEvaluatedKey": "map"},
    "Scan": {"Items": "list", "LastEvaluatedKey": "map"},
    "BatchGetItem": {"Responses": "tables"},
    "TransactGetItems": {"Responses": "transact"},
}
_generic = None  # moto's own execute_result while the fast path is installed
_parse = None  # moto's own UpdateExpressionParser.make while parsed trees are kept
_transact = None  # moto's own DynamoDBBackend.transact_write_items while item-level rollback is on
_sizes = None  # moto's own (Item.__init__, Item.size, DynamoDBBackend.update_item) while item sizes are kept
_table_copy = None  # the `copy` module moto's table.py used before reads stopped copying items
_in_transaction = threading.local()
_transactions = threading.Lock()
_result_init = None  # moto's own DynamoResult.__init__ while stored items are encoded from kept JSON
STORED_ITEMS = "_local_stored_items"
ENCODED = "_local_encoded"
PARSED_KEPT = 512


def _binary(value: Any) -> str:
    return base64.b64encode(value if isinstance(value, bytes) else str(value).encode()).decode()


def attribute_value(value: dict) -> dict:
    """One AttributeValue as DynamoDB JSON (binary as base64, as moto's serializer writes it)."""
    kind, inner = next(iter(value.items()))
    if kind == "M":
        return {"M": {name: attribute_value(item) for name, item in inner.items()}}
    if kind == "L":
        return {"L": [attribute_value(item) for item in inner]}
    if kind == "B":
        return {"B": _binary(inner)}
    if kind == "BS":
        return {"BS": [_binary(item) for item in inner]}
    if kind in ("S", "N"):
        return {kind: inner if isinstance(inner, str) else str(inner)}
    if kind in ("SS", "NS"):
        return {kind: [item if isinstance(item, str) else str(item) for item in inner]}
    return {kind: inner}


def attribute_map(item: dict) -> dict:
    return {name: attribute_value(value) for name, value in item.items()}


def _encode(form: str, value: Any) -> Any:
    if form == "map":
        return attribute_map(value)
    if form == "list":
        return [attribute_map(item) for item in value]
    if form == "tables":
        return {table: [attribute_map(item) for item in items] for table, items in value.items()}
    return [{**entry, "Item": attribute_map(entry["Item"])} if entry.get("Item") is not None else entry
            for entry in value]


def _stored_value(value: Any) -> dict:
    """One stored value (moto's DynamoType, maps and lists of them) as DynamoDB JSON."""
    kind = getattr(value, "type", None)
    if kind is None:  # a plain AttributeValue
        return attribute_value(value)
    if kind == "M":
        return {"M": {name: _stored_value(item) for name, item in value.value.items()}}
    if kind == "L":
        return {"L": [_stored_value(item) for item in value.value]}
    if kind == "B":  # stored as it came off the wire (base64 text) or as bytes
        return {"B": _stored_binary(value.value)}
    if kind == "BS":
        return {"BS": [_stored_binary(item) for item in value.value]}
    return attribute_value({kind: value.value})


def _stored_binary(value: Any) -> str:
    return value if isinstance(value, str) else base64.b64encode(value).decode()


def _item_json(attrs: Any) -> str:
    """A stored item's attributes as DynamoDB JSON text, kept on the item until a write changes it."""
    kept = attrs.__dict__.get(ENCODED)
    if kept is None:
        kept = attrs.__dict__[ENCODED] = json.dumps({name: _stored_value(value) for name, value in attrs.items()},
                                                    separators=(",", ":"))
    return kept


def _is_plain(value: Any) -> bool:
    return isinstance(value, (dict, list))


def install() -> None:
    """All three DynamoDB fixes (once per process; `uninstall` puts moto back as it was)."""
    global _generic
    from moto.dynamodb.models.dynamo_type import LimitedSizeDict
    from moto.dynamodb.responses import DynamoResult
    if _generic is not None:
        return
    generic = _generic = DynamoResult.execute_result

    def execute_result(self, context):
        members = ITEM_MEMBERS.get(str(context.operation_model.name))
        result = self.result
        stored = self.__dict__.pop(STORED_ITEMS, None)
        if stored is not None:  # a Query's or Scan's items, kept as moto stores them (see result_init)
            status, headers, body = execute_result(self, context)
            if not str(status).startswith("2"):
                return status, headers, body
            items = ",".join(_item_json(attrs) for attrs in stored)
            return status, headers, f'{body[:-1]}{"," if body != "{}" else ""}"Items":[{items}]}}'
        if not members or not isinstance(result, dict):
            return generic(self, context)
        held = {name: result[name] for name in members if _is_plain(result.get(name))}
        if not held:
            return generic(self, context)
        self._result = {name: value for name, value in result.items() if name not in held}
        try:
            status, headers, body = generic(self, context)
        finally:
            self._result = result
        if not str(status).startswith("2"):
            return status, headers, body
        document = json.loads(body) if body else {}
        document.update({name: _encode(members[name], value) for name, value in held.items()})
        return status, headers, json.dumps(document, separators=(",", ":"))

    init = DynamoResult.__init__

    def result_init(self, result):
        items = result.get("Items") if isinstance(result, dict) else None
        if isinstance(items, list) and all(type(attrs) is LimitedSizeDict for attrs in items):
            init(self, {name: value for name, value in result.items() if name != "Items"})
            self.__dict__[STORED_ITEMS] = items  # encoded from their kept JSON, not converted twice
        else:
            init(self, result)

    global _result_init
    _result_init = init
    DynamoResult.execute_result = execute_result
    DynamoResult.__init__ = result_init
    _keep_parsed_update_expressions()
    _roll_transactions_back_by_item()
    _keep_item_sizes()
    _read_without_copying_items()


def _keep_parsed_update_expressions() -> None:
    global _parse
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser
    parse = _parse = UpdateExpressionParser.make.__func__
    parsed: dict[str, Any] = {}

    def make(cls, expression_str):
        tree = parsed.get(expression_str)
        if tree is None:
            tree = parse(cls, expression_str)  # a bad expression raises here and is not kept
            if len(parsed) >= PARSED_KEPT:
                parsed.clear()
            parsed[expression_str] = tree
        return tree

    UpdateExpressionParser.make = classmethod(make)


def _roll_transactions_back_by_item() -> None:
    global _transact
    from moto.dynamodb.exceptions import (
        MockValidationException,
        MultipleTransactionsException,
        TransactionCanceledException,
    )
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table
    transact = _transact = DynamoDBBackend.transact_write_items
    rolled_back = (TransactionCanceledException, MultipleTransactionsException, MockValidationException)

    def transact_write_items(self, transact_items):
        # One transaction at a time, as DynamoDB isolates them: two threads' transactions on one item (a job
        # counter) must not interleave, nor one's roll-back put back an item the other had just changed.
        with _transactions:
            backups = _item_backups(self, transact_items)
            _in_transaction.on = True  # moto's whole-table copies become no-ops (see Table.__deepcopy__ below)
            try:
                return transact(self, transact_items)
            except rolled_back:
                for table, hash_key, range_key, saved in reversed(backups):
                    _put_back(table, hash_key, range_key, saved)
                raise
            finally:
                _in_transaction.on = False

    def table_deepcopy(table, memo):
        if getattr(_in_transaction, "on", False):
            return table
        copied = table.__class__.__new__(table.__class__)  # what deepcopy does for a plain object
        memo[id(table)] = copied
        copied.__dict__.update(copy.deepcopy(table.__dict__, memo))
        return copied

    DynamoDBBackend.transact_write_items = transact_write_items
    Table.__deepcopy__ = table_deepcopy


def _item_backups(backend, transact_items: list) -> list[tuple]:
    """(table, hash key, range key, a copy of the item or None) for every item the transaction names."""
    from moto.dynamodb.models.dynamo_type import DynamoType
    backups = []
    for entry in transact_items:
        try:
            _, operation = next(iter(entry.items()))
            table = backend.tables[operation["TableName"]]
            key = operation.get("Key") or operation["Item"]
            hash_key = DynamoType(key[table.hash_key_attr])
            range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
            current = table.get_item(hash_key, range_key)
        except Exception:  # noqa: BLE001 - a malformed entry: moto refuses the transaction before writing
            continue
        backups.append((table, hash_key, range_key, copy.deepcopy(current) if current is not None else None))
    return backups


def _put_back(table, hash_key, range_key, saved) -> None:
    if range_key is not None:
        if saved is None:
            table.items[hash_key].pop(range_key, None)
        else:
            table.items[hash_key][range_key] = saved
    elif saved is None:
        table.items.pop(hash_key, None)
    else:
        table.items[hash_key] = saved


SIZE = "_local_kept_size"
ITEM_SIZE_LIMIT = 405_000  # moto's LimitedSizeDict


def _keep_item_sizes() -> None:
    global _sizes
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
    from moto.dynamodb.models.utilities import bytesize
    init, size, update_item = Item.__init__, Item.size, DynamoDBBackend.update_item
    _sizes = (init, size, update_item)

    def measured_once(item, hash_key, range_key, attrs):
        item.hash_key, item.range_key = hash_key, range_key
        values = LimitedSizeDict.__new__(LimitedSizeDict)  # filled without the per-insertion re-measure
        for name, value in attrs.items():
            dict.__setitem__(values, name, DynamoType(value) if isinstance(value, DynamoType) else dynamo_type(value))
        total = sum(bytesize(name) + value.size() for name, value in values.items())
        if total > ITEM_SIZE_LIMIT:  # what LimitedSizeDict would have raised at some insertion
            raise ItemSizeTooLarge
        item.attrs = values
        item.__dict__[SIZE] = total

    def kept_size(item):
        kept = item.__dict__.get(SIZE)
        if kept is None:
            kept = item.__dict__[SIZE] = size(item)
        return kept

    def update_item_forgetting_size(self, table_name, key, *args, **kwargs):
        _forget_size(self, table_name, key)  # before too: moto may measure while it updates
        try:
            return update_item(self, table_name, key, *args, **kwargs)
        finally:
            _forget_size(self, table_name, key)

    Item.__init__ = measured_once
    Item.size = kept_size
    DynamoDBBackend.update_item = update_item_forgetting_size


def _read_without_copying_items() -> None:
    global _table_copy
    import types

    from moto.dynamodb.models import table as table_module
    from moto.dynamodb.models.dynamo_type import Item
    _table_copy = table_module.copy

    def deepcopy(value, memo=None):
        if isinstance(value, Item):  # Scan, one item at a time
            return value
        if isinstance(value, list) and all(isinstance(item, Item) for item in value):  # Query's results
            return list(value)
        return copy.deepcopy(value, memo)  # backups and restores of whole tables still copy

    table_module.copy = types.SimpleNamespace(copy=copy.copy, deepcopy=deepcopy)


def dynamo_type(value: dict) -> Any:
    """moto's DynamoType for one AttributeValue (as `DynamoType(value)` builds it, nested lists and maps
    included), without its generic constructor's per-value overhead: a job item holds ~40 of them."""
    from moto.dynamodb.models.dynamo_type import DynamoType
    ((kind, inner),) = value.items()
    built = DynamoType.__new__(DynamoType)
    built.type = kind
    if kind == "L":
        inner = [dynamo_type(item) for item in inner]
    elif kind == "M":
        inner = {name: dynamo_type(item) for name, item in inner.items()}
    built.value = inner
    return built


def load_trusted_items(table: Any, items: Iterable[dict]) -> int:
    """Store items a snapshot of this emulator holds (each was validated when first written): without moto's
    per-item validation and measuring, which cost most of a restore. Returns how many were stored."""
    from moto.dynamodb.models.dynamo_type import Item, LimitedSizeDict
    count = 0
    for attrs in items:
        item = Item.__new__(Item)
        values = LimitedSizeDict.__new__(LimitedSizeDict)
        for name, value in attrs.items():
            dict.__setitem__(values, name, dynamo_type(value))
        item.attrs = values
        item.hash_key = values[table.hash_key_attr]
        item.range_key = values[table.range_key_attr] if table.range_key_attr else None
        if item.range_key is not None:
            table.items[item.hash_key][item.range_key] = item
        else:
            table.items[item.hash_key] = item
        count += 1
    table.__dict__.pop("_local_sorted_partitions", None)  # local/moto_index.py rebuilds at the next query
    return count


def _forget_size(backend, table_name: str, key: dict) -> None:
    try:
        table = backend.get_table(table_name)
        item = table.get_item(*backend.get_keys_value(table, key))
    except Exception:  # noqa: BLE001 - no such table or key: moto's own update_item reports it
        return
    if item is not None:
        item.__dict__.pop(SIZE, None)
        item.attrs.__dict__.pop(ENCODED, None)


def install_for_server() -> None:
    """For a moto server process: its request routing lists moto's ~150 package folders on disk for every
    request (under a lock; ~18% of the process's time under load). The folders do not change while it runs."""
    from moto import backends
    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules


def installed() -> bool:
    return _generic is not None


def uninstall() -> None:
    global _generic, _parse, _transact, _sizes, _table_copy, _result_init
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser
    from moto.dynamodb.responses import DynamoResult
    if _generic is not None:
        DynamoResult.execute_result, _generic = _generic, None
    if _result_init is not None:
        DynamoResult.__init__, _result_init = _result_init, None
    if _parse is not None:
        UpdateExpressionParser.make, _parse = classmethod(_parse), None
    if _transact is not None:
        from moto.dynamodb.models import DynamoDBBackend
        from moto.dynamodb.models.table import Table
        DynamoDBBackend.transact_write_items, _transact = _transact, None
        del Table.__deepcopy__
    if _sizes is not None:
        from moto.dynamodb.models import DynamoDBBackend
        from moto.dynamodb.models.dynamo_type import Item
        (Item.__init__, Item.size, DynamoDBBackend.update_item), _sizes = _sizes, None
    if _table_copy is not None:
        from moto.dynamodb.models import table as table_module
        table_module.copy, _table_copy = _table_copy, None
