"""The bulk jobs state machine: its definition (kept in `statemachines/bulk_jobs.asl.json`, deployed
verbatim by the template with `DefinitionSubstitutions`; created in an emulated account by
`local/emulated_aws.py`) and starting an execution named after the operation."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chalicelib.wiring import services

DEFINITION_FILE = Path(__file__).resolve().parent.parent / "statemachines" / "bulk_jobs.asl.json"
STATE_MACHINE_BASE_NAME = "bulk-jobs"
CHUNK_FUNCTION = "bulk_chunk"


class WorkflowStartError(Exception):
    """The state machine execution could not be started."""


def definition() -> dict[str, Any]:
    """The ASL as an object, with `${...}` placeholders still in it (the template substitutes them)."""
    return json.loads(DEFINITION_FILE.read_text())


def substituted(values: dict[str, str]) -> str:
    text = DEFINITION_FILE.read_text()
    for name, value in values.items():
        text = text.replace("${" + name + "}", value)
    return text


def state_machine_name(prefix: str | None = None) -> str:
    return (services().settings.table_prefix if prefix is None else prefix) + STATE_MACHINE_BASE_NAME


def state_machine_arn() -> str:
    current = services()
    configured = current.settings.bulk_state_machine_arn
    if configured:
        return configured
    name = state_machine_name()
    arns = current.caches.state_machine_arns
    with current.caches.lock:
        if name not in arns:
            machines = current.client("stepfunctions").list_state_machines().get("stateMachines", [])
            found = [m["stateMachineArn"] for m in machines if m["name"] == name]
            if not found:
                raise WorkflowStartError(f"state machine {name} does not exist")
            arns[name] = found[0]
        return arns[name]


def start_bulk_execution(operation_id: int) -> str | None:
    """Start the execution `bulk-<id>`. Starting it again is harmless: Step Functions answers with the
    running execution (same input) or refuses (`ExecutionAlreadyExists`, answered here with None);
    either way one execution does the work."""
    client = services().client("stepfunctions")
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
