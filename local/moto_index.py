"""Sorted partitions for moto's DynamoDB Query (the local stack's moto process, tests and benchmarks; never
deployed): an index query costs what its matches cost, not what the table holds.

moto 5.2 answers every Query by listing and sorting the whole table (`Table.all_items()`), then keeping the
items of the asked partition: with 2,178 jobs a list page took ~0.6 s. Here each table keeps, per index
(and for the table's own key), a map from partition key to the partition's items in moto's own sort order
(the index's key attributes, then the table's), built at the first query of that index and maintained on
every write (`Table.put_item`, `Table.delete_item`, the backend's `update_item` and `transact_write_items`,
which may roll back; PartiQL statements and table updates drop the structures, rebuilt on the next query).

A query then hands moto's own `Table.query` a *window* instead of the whole table: the partition's items
from where the answer starts (the exclusive start key, or the bound of the sort key condition, found by
bisection) to one item past the last one moto will return (`Limit`), or, without a limit, to the end of
the sort key range. moto's code does everything else as before (key conditions, start key, limit, 1 MB
page, filter, projection, LastEvaluatedKey), so the answer is moto's; tests/unit/test_moto_index.py
compares both on random tables and queries. Queries this does not cover (several key attributes per key,
legacy QueryFilter/KeyConditions, an unknown index) go to moto unchanged.
"""
from __future__ import annotations

import bisect
import itertools
import threading
from typing import Any

RESULT_SIZE_LIMIT = 1_000_000  # moto's 1 MB page
_LOWER = {"=", "EQ", ">", "GT", ">=", "GE", "BETWEEN", "BEGINS_WITH"}
_UPPER = {"=", "EQ", "<", "LT", "<=", "LE", "BETWEEN"}
_lock = threading.RLock()
_originals: dict[str, Any] = {}
ATTRIBUTE = "_local_sorted_partitions"
stats = {"windowed": 0, "passed_through": 0}


class _Partitions:
    """One index (or the table's key): partition key -> parallel sorted lists of sort tuples and primary keys."""

    def __init__(self, table, index_name: str | None) -> None:
        self.index_name = index_name
        if index_name is None:
            self.hash_attr = table.hash_key_attr
            self.required: list[str] = []
            self.sort_attrs = [table.range_key_attr] if table.range_key_attr else [table.hash_key_attr]
        else:
            index = {i.name: i for i in table.all_indexes()}[index_name]
            hashes = [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"]
            ranges = [k["AttributeName"] for k in index.schema if k["KeyType"] == "RANGE"]
            self.hash_attr = hashes[0]
            self.required = ranges
            self.sort_attrs = table._generate_attr_to_sort_by(*_sort_inputs(table, hashes, ranges))
        self.schema = _schema(table, index_name)
        self.keys: dict[Any, list[tuple]] = {}
        self.pks: dict[Any, list[tuple]] = {}
        self.where: dict[tuple, tuple[Any, tuple]] = {}
        entries = [(self._place(item), _pk(item)) for item in _every_item(table)]
        for (partition, key), pk in sorted((e for e in entries if e[0] is not None), key=lambda e: e[0][1]):
            self.keys.setdefault(partition, []).append(key)
            self.pks.setdefault(partition, []).append(pk)
            self.where[pk] = (partition, key)

    def _place(self, item) -> tuple[Any, tuple] | None:
        """(partition key, sort tuple) of an item this index holds; None for one it does not."""
        if self.index_name is None:
            return item.hash_key, (item.range_key if item.range_key is not None else item.hash_key,)
        partition = item.attrs.get(self.hash_attr)
        if not partition or not all(item.attrs.get(name) for name in self.required):
            return None
        try:
            return partition, tuple(item.attrs[name] for name in self.sort_attrs)
        except KeyError:
            return None

    def remove(self, pk: tuple) -> None:
        found = self.where.pop(pk, None)
        if found is None:
            return
        partition, key = found
        keys, pks = self.keys[partition], self.pks[partition]
        at = bisect.bisect_left(keys, key)
        while at < len(keys) and pks[at] != pk:  # equal sort tuples cannot happen (the pk is in them)
            at += 1
        if at < len(keys):
            del keys[at], pks[at]
        if not keys:
            del self.keys[partition], self.pks[partition]

    def add(self, item) -> None:
        place = self._place(item)
        if place is None:
            return
        partition, key = place
        keys, pks = self.keys.setdefault(partition, []), self.pks.setdefault(partition, [])
        at = bisect.bisect_left(keys, key)
        keys.insert(at, key)
        pks.insert(at, _pk(item))
        self.where[_pk(item)] = place


def _sort_inputs(table, hashes: list[str], ranges: list[str]) -> tuple[list, list]:
    """The hash_attrs and range_attrs moto's Table.query sorts an index's items by."""
    if ranges:
        return [*hashes, table.hash_key_attr], [*ranges, table.range_key_attr]
    index_range = table.range_key_attr if table.range_key_attr else table.hash_key_attr
    return [*hashes, table.hash_key_attr], [index_range, table.range_key_attr]


def _pk(item) -> tuple:
    return item.hash_key, item.range_key


def _schema(table, index_name: str | None) -> Any:
    if index_name is None:
        return (table.hash_key_attr, table.range_key_attr)
    index = {i.name: i for i in table.all_indexes()}.get(index_name)
    return repr(index.schema) if index is not None else None


def _every_item(table):
    for entry in list(table.items.values()):
        if table.range_key_attr:
            yield from list(entry.values())
        else:
            yield entry


def _lookup(table, pk: tuple):
    hash_key, range_key = pk
    entry = table.items.get(hash_key)
    if entry is None:
        return None
    return entry.get(range_key) if table.range_key_attr else entry


def _structures(table) -> dict:
    found = table.__dict__.get(ATTRIBUTE)
    if found is None:
        found = {}
        table.__dict__[ATTRIBUTE] = found
    return found


def refresh(table, pk: tuple) -> None:
    """The item with this primary key changed (or went): move it in every structure built for the table."""
    with _lock:
        structures = table.__dict__.get(ATTRIBUTE)
        if not structures:
            return
        item = _lookup(table, pk)
        for partitions in structures.values():
            partitions.remove(pk)
            if item is not None:
                partitions.add(item)


def forget(table) -> None:
    with _lock:
        table.__dict__.pop(ATTRIBUTE, None)


# --- the query -------------------------------------------------------------------------------------

class _Window:
    """The table, as moto's query sees it, holding only the window's items."""

    def __init__(self, table, items: list) -> None:
        self._table = table
        self._items = items

    def all_items(self) -> list:
        return list(self._items)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)


def _partitions_for(table, index_name: str | None) -> _Partitions:
    structures = _structures(table)
    partitions = structures.get(index_name)
    if partitions is None or partitions.schema != _schema(table, index_name):
        partitions = structures[index_name] = _Partitions(table, index_name)
    return partitions


def _window(table, partitions: _Partitions, partition, range_comparison, range_objs, limit, start_key, forward,
            range_attr, hash_attrs, range_attrs) -> list:
    keys, pks = partitions.keys.get(partition, []), partitions.pks.get(partition, [])
    if not keys:
        return []
    component = 0 if partitions.index_name is None else 1
    comparison = (range_comparison or "").upper()
    starts = []
    if start_key is not None:
        try:
            from moto.dynamodb.models.dynamo_type import DynamoType
            at = tuple(DynamoType(start_key[name]) for name in partitions.sort_attrs)
        except (KeyError, TypeError):
            at = None
        if at is not None:
            starts.append(bisect.bisect_right(keys, at) if forward else bisect.bisect_left(keys, at) - 1)
    if comparison and range_objs:
        if forward and comparison in _LOWER:
            starts.append(bisect.bisect_left(keys, range_objs[0], key=lambda k: k[component]))
        elif not forward and comparison in _UPPER:
            bound = range_objs[-1] if comparison == "BETWEEN" else range_objs[0]
            starts.append(bisect.bisect_right(keys, bound, key=lambda k: k[component]) - 1)
    if forward:
        start = max([0, *(s - 1 for s in starts)])
        positions = range(start, len(keys))
    else:
        start = min([len(keys) - 1, *(s + 1 for s in starts)])
        positions = range(start, -1, -1)
    window: list = []
    matches, run_size, in_run, before_start = 0, 0, False, start_key is not None
    for position in positions:
        item = _lookup(table, pks[position])
        if item is None:
            continue
        window.append(item)
        if before_start:
            if table._item_comes_before_dct(item, start_key, hash_attrs, range_attrs, forward):
                continue
            before_start = False
        if limit is not None and matches == limit:
            break  # moto stops here, with this item's predecessor as LastEvaluatedKey
        if _matches(item, partitions.index_name, range_comparison, range_objs, range_attr):
            matches += 1
            in_run = True
            if run_size <= RESULT_SIZE_LIMIT:
                run_size += item.size()
        elif in_run:
            # Past the key range (it is contiguous in this order): nothing further is returned. moto would
            # still stop at a later item pushing the page past 1 MB; near that size, keep them all.
            if run_size > RESULT_SIZE_LIMIT - 400_000:
                window.extend(i for i in (_lookup(table, pks[p]) for p in
                                          itertools.islice(positions, positions.index(position) + 1, None))
                              if i is not None)
            break
    return window


def _matches(item, index_name, range_comparison, range_objs, range_attr) -> bool:
    """moto's own test of the sort key condition (Table.query)."""
    if not range_comparison:
        return True
    if range_attr and item.attrs.get(range_attr):
        return bool(item.attrs.get(range_attr).compare(range_comparison, range_objs))
    if not index_name:
        return bool(item.range_key.compare(range_comparison, range_objs))
    return False


def install() -> None:
    """Windowed queries and index maintenance (once per process; `uninstall` puts moto back)."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table
    if _originals:
        return
    query = _originals["query"] = Table.query
    put_item = _originals["put_item"] = Table.put_item
    delete_item = _originals["delete_item"] = Table.delete_item
    update_item = _originals["update_item"] = DynamoDBBackend.update_item
    transact = _originals["transact_write_items"] = DynamoDBBackend.transact_write_items
    update_table = _originals["update_table"] = DynamoDBBackend.update_table
    statements = {name: getattr(DynamoDBBackend, name)
                  for name in ("execute_statement", "execute_transaction", "batch_execute_statement")}
    _originals.update(statements)

    def windowed_query(self, hash_key, range_comparison, range_objs, limit, exclusive_start_key,
                       scan_index_forward, projection_expressions, index_name=None, consistent_read=False,
                       filter_expression=None, hash_key_conditions=None, range_key_conditions=None,
                       **filter_kwargs):
        arguments = (hash_key, range_comparison, range_objs, limit, exclusive_start_key, scan_index_forward,
                     projection_expressions, index_name, consistent_read, filter_expression)
        named = {"hash_key_conditions": hash_key_conditions, "range_key_conditions": range_key_conditions,
                 **filter_kwargs}
        plan = _plan(self, hash_key, range_comparison, index_name, consistent_read, hash_key_conditions,
                     range_key_conditions, filter_kwargs)
        if plan is None:
            stats["passed_through"] += 1
            return query(self, *arguments, **named)
        partition, range_attr, hash_attrs, range_attrs = plan
        with _lock:
            partitions = _partitions_for(self, index_name)
            window = _window(self, partitions, partition, range_comparison, range_objs, limit, exclusive_start_key,
                             scan_index_forward is not False, range_attr, hash_attrs, range_attrs)
        stats["windowed"] += 1
        return query(_Window(self, window), *arguments, **named)

    def indexed_put_item(self, item_attrs, *args, **kwargs):
        item = put_item(self, item_attrs, *args, **kwargs)
        refresh(self, _pk(item))
        return item

    def indexed_delete_item(self, hash_key, range_key):
        item = delete_item(self, hash_key, range_key)
        if item is not None:
            refresh(self, _pk(item))
        return item

    def indexed_update_item(backend, table_name, key, *args, **kwargs):
        try:
            return update_item(backend, table_name, key, *args, **kwargs)
        finally:
            _refresh_key(backend, table_name, key, DynamoType)

    def indexed_transact(backend, transact_items):
        try:
            return transact(backend, transact_items)
        finally:
            for entry in transact_items:
                try:
                    _, operation = next(iter(entry.items()))
                    _refresh_key(backend, operation["TableName"], operation.get("Key") or operation["Item"],
                                 DynamoType)
                except Exception:  # noqa: BLE001 - a malformed entry changed nothing
                    continue

    def forgetting(method):
        def call(backend, *args, **kwargs):
            try:
                return method(backend, *args, **kwargs)
            finally:
                for table in list(backend.tables.values()):
                    forget(table)
        return call

    Table.query = windowed_query
    Table.put_item = indexed_put_item
    Table.delete_item = indexed_delete_item
    DynamoDBBackend.update_item = indexed_update_item
    DynamoDBBackend.transact_write_items = indexed_transact
    DynamoDBBackend.update_table = forgetting(update_table)
    for name, method in statements.items():
        setattr(DynamoDBBackend, name, forgetting(method))


def _refresh_key(backend, table_name, key, dynamo_type) -> None:
    table = backend.tables.get(table_name)
    if table is None or table.hash_key_attr not in key:
        return
    range_key = dynamo_type(key[table.range_key_attr]) if table.range_key_attr and table.range_key_attr in key \
        else None
    refresh(table, (dynamo_type(key[table.hash_key_attr]), range_key))


def _plan(table, hash_key, range_comparison, index_name, consistent_read, hash_key_conditions,
          range_key_conditions, filter_kwargs):
    """(partition key, sort key attribute, moto's hash_attrs, range_attrs) for a query this can window;
    None for one moto answers alone (it also raises the errors)."""
    if filter_kwargs:
        return None
    if range_key_conditions and len(range_key_conditions) > 1:
        return None
    last_range = range_key_conditions[-1][0] if range_key_conditions else None
    if index_name is None:
        if hash_key is None:
            return None
        return hash_key, last_range, [table.hash_key_attr], [table.range_key_attr]
    index = {i.name: i for i in table.all_indexes()}.get(index_name)
    if index is None or (consistent_read and index in (table.global_indexes or [])):
        return None
    hashes = [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"]
    ranges = [k["AttributeName"] for k in index.schema if k["KeyType"] == "RANGE"]
    if len(hashes) != 1 or len(ranges) > 1 or not hash_key_conditions or len(hash_key_conditions) != 1:
        return None
    name, value = hash_key_conditions[0]
    if name != hashes[0]:
        return None
    if not ranges and range_comparison:
        return None  # moto raises
    if ranges and last_range is not None and last_range != ranges[0]:
        return None
    hash_attrs, range_attrs = _sort_inputs(table, hashes, ranges)
    return value, last_range or range_attrs[0], hash_attrs, range_attrs


def installed() -> bool:
    return bool(_originals)


def uninstall() -> None:
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table
    if not _originals:
        return
    Table.query = _originals.pop("query")
    Table.put_item = _originals.pop("put_item")
    Table.delete_item = _originals.pop("delete_item")
    for name in list(_originals):
        setattr(DynamoDBBackend, name, _originals.pop(name))
