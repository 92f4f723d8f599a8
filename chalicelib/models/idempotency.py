"""`Idempotency-Key` support: run a piece of work once per (caller, key), with Powertools idempotency
on the `idempotency` table (`chalicelib.models.tables.IdempotencyRecord`).

1. The key is scoped by the caller: the record id hashes (principal name, key), so two callers' keys
   never collide and nobody can replay someone else's result.
2. The request (body and whatever else shapes the result) is hashed too and kept on the record: the
   same key with another request is a 409, never a silent replay of the first result.
3. The first request claims the key (a conditional put, status INPROGRESS), runs the work and stores
   its JSON result (COMPLETED). A repeat returns that stored result; a repeat while the first is
   still running is a 409. Work that raises (a 400, say) releases the key, so a corrected request
   can reuse it. A claim whose request died is free again after `REQUEST_BUDGET_MS`.

Powertools' idempotency package costs about 120 ms to import: it is imported on first use only.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, cast

from chalicelib.errors import Conflict, InvalidInput
from chalicelib.models.tables import IdempotencyRecord
from chalicelib.wiring import services

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
    from aws_lambda_powertools.utilities.typing import LambdaContext

MAX_KEY_LENGTH = 255
KEY_PREFIX = "jobs"
# API Gateway gives up on a request after 29 s: a claim older than this belongs to a dead request.
REQUEST_BUDGET_MS = 30_000


def check_key(key: str | None) -> str | None:
    """The header's value, or a 400 when it is empty or too long."""
    if key is None:
        return None
    if not key.strip() or len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(f'"Idempotency-Key" must be 1 to {MAX_KEY_LENGTH} characters', field="Idempotency-Key")
    return key


class _RequestBudget:
    """Stands in for the Lambda context Powertools reads the remaining time from."""

    def get_remaining_time_in_millis(self) -> int:
        return REQUEST_BUDGET_MS


def _persistence_store() -> DynamoDBPersistenceLayer:
    """One persistence layer per DynamoDB client (clients are per process, renewed by tests)."""
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
    current = services()
    client = current.client("dynamodb")
    layers = current.caches.idempotency_layers
    with current.caches.lock:
        store = layers.get(id(client))
        if store is None or store.table_name != IdempotencyRecord.Meta.table_name:
            store = DynamoDBPersistenceLayer(table_name=IdempotencyRecord.Meta.table_name, boto3_client=client)
            layers.clear()
            layers[id(client)] = store
        return store


def run_once(scope: str, key: str, request: Any, work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """`work()`'s JSON-serialisable result, computed once for (`scope`, `key`) and `request`.

    Raises `Conflict` when the key was used with a different request, or its first request is still
    running."""
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig
    from aws_lambda_powertools.utilities.idempotency.base import IdempotencyHandler
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )
    config = IdempotencyConfig(event_key_jmespath="[scope, key]", payload_validation_jmespath="request",
                               raise_on_no_idempotency_key=True,
                               expires_after_seconds=services().settings.idempotency_seconds,
                               hash_function="sha256",
                               # Powertools only calls get_remaining_time_in_millis() on its context;
                               # subclassing LambdaContext would import Powertools with this module.
                               lambda_context=cast("LambdaContext", _RequestBudget()))
    handler = IdempotencyHandler(function=work, function_payload={"scope": scope, "key": key, "request": request},
                                 config=config, persistence_store=_persistence_store(), key_prefix=KEY_PREFIX,
                                 function_args=(), function_kwargs={})
    try:
        return handler.handle()
    except IdempotencyValidationError as error:
        raise Conflict('This "Idempotency-Key" was already used with a different request.') from error
    except IdempotencyAlreadyInProgressError as error:
        raise Conflict('A request with this "Idempotency-Key" is still being processed; retry later.') from error
