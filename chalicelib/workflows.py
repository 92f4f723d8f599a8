"""The bulk jobs state machine: its definition (kept in `statemachines/bulk_jobs.asl.json`, deployed
verbatim by the template with `DefinitionSubstitutions`), its creation in an emulated account (local
stack, tests) and starting an execution named after the operation."""
from __future__ import annotations

import json
import threading
from pathlib import Path

from chalicelib import aws
from chalicelib.config import get_settings

DEFINITION_FILE = Path(__file__).resolve().parent.parent / "statemachines" / "bulk_jobs.asl.json"
STATE_MACHINE_BASE_NAME = "bulk-jobs"
CHUNK_FUNCTION = "bulk_chunk"
EMULATED_ACCOUNT = "123456789012"

_arns: dict[str, str] = {}
_lock = threading.Lock()


class WorkflowStartError(Exception):
    """The state machine execution could not be started."""


def definition() -> dict:
    """The ASL as an object, with `${...}` placeholders still in it (the template substitutes them)."""
    return json.loads(DEFINITION_FILE.read_text())


def substituted(values: dict[str, str]) -> str:
    text = DEFINITION_FILE.read_text()
    for name, value in values.items():
        text = text.replace("${" + name + "}", value)
    return text


def state_machine_name(prefix: str | None = None) -> str:
    return (get_settings().table_prefix if prefix is None else prefix) + STATE_MACHINE_BASE_NAME


def chunk_function_arn(prefix: str, region: str) -> str:
    """The chunk function's ARN in an emulated account; moto routes its invocations (see local/lambdas.py)."""
    return f"arn:aws:lambda:{region}:{EMULATED_ACCOUNT}:function:{prefix}{CHUNK_FUNCTION}"


def create_state_machine(client, prefix: str, region: str) -> str:
    """Create the bulk state machine in an emulated account (the deploy template does it in AWS)."""
    text = substituted({"BulkChunkFunctionArn": chunk_function_arn(prefix, region),
                        "BulkOperationsTable": prefix + "bulk-operations"})
    name = state_machine_name(prefix)
    for machine in client.list_state_machines().get("stateMachines", []):
        if machine["name"] == name:
            client.update_state_machine(stateMachineArn=machine["stateMachineArn"], definition=text)
            return machine["stateMachineArn"]
    return client.create_state_machine(name=name, definition=text, type="STANDARD",
                                       roleArn=f"arn:aws:iam::{EMULATED_ACCOUNT}:role/{name}")["stateMachineArn"]


def state_machine_arn() -> str:
    configured = get_settings().bulk_state_machine_arn
    if configured:
        return configured
    name = state_machine_name()
    with _lock:
        if name not in _arns:
            machines = aws.client("stepfunctions").list_state_machines().get("stateMachines", [])
            found = [m["stateMachineArn"] for m in machines if m["name"] == name]
            if not found:
                raise WorkflowStartError(f"state machine {name} does not exist")
            _arns[name] = found[0]
        return _arns[name]


def forget_arns() -> None:
    with _lock:
        _arns.clear()


def start_bulk_execution(operation_id: int) -> str | None:
    """Start the execution `bulk-<id>`. Starting it again is harmless: Step Functions answers with the
    running execution (same input) or refuses (`ExecutionAlreadyExists`, answered here with None);
    either way one execution does the work."""
    client = aws.client("stepfunctions")
    payload = json.dumps({"operation_id": str(operation_id), "cursor": None})
    try:
        return client.start_execution(stateMachineArn=state_machine_arn(), name=f"bulk-{operation_id}",
                                      input=payload)["executionArn"]
    except client.exceptions.ExecutionAlreadyExists:
        return None
    except WorkflowStartError:
        raise
    except Exception as error:  # noqa: BLE001 - botocore raises many kinds
        raise WorkflowStartError(f"starting bulk-{operation_id} failed: {error}") from error
