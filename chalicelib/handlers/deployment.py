"""The `Bootstrap` custom resource of the deploy template: at every create and update of the stack it
loads what a fresh store needs (`chalicelib.bootstrap.prepare_store`: built-in errors, the `default`
workspace on the stack's bucket). Deleting the stack deletes nothing here (the tables are retained)."""
from __future__ import annotations

import json
import logging
import urllib.request
from typing import Any

from chalice import Blueprint

blueprint = Blueprint(__name__)
logger = logging.getLogger("jobs.deployment")


def handle_custom_resource(event: dict[str, Any], context: Any, send: Any = None) -> dict[str, Any]:
    """Do the work of one CloudFormation custom resource request and answer CloudFormation (`send`
    puts the response to the pre-signed ResponseURL; tests pass their own)."""
    status, reason = "SUCCESS", "ok"
    if event.get("RequestType") in ("Create", "Update"):
        try:
            from chalicelib.bootstrap import prepare_store
            prepare_store()
        except Exception as error:  # noqa: BLE001 - any failure must reach CloudFormation, or it waits an hour
            logger.exception("bootstrap failed")
            status, reason = "FAILED", f"bootstrap failed: {error}"[:500]
    response: dict[str, Any] = {
        "Status": status, "Reason": reason,
        "PhysicalResourceId": event.get("PhysicalResourceId") or f"{event.get('StackId', 'stack')}-bootstrap",
        "StackId": event.get("StackId"), "RequestId": event.get("RequestId"),
        "LogicalResourceId": event.get("LogicalResourceId"), "Data": {},
    }
    (send or _put_response)(event["ResponseURL"], response)
    return response


def _put_response(url: str, response: dict[str, Any]) -> None:
    body = json.dumps(response).encode()
    request = urllib.request.Request(url, data=body, method="PUT",
                                     headers={"Content-Type": "", "Content-Length": str(len(body))})
    with urllib.request.urlopen(request, timeout=30):  # noqa: S310 - CloudFormation's https URL
        pass


@blueprint.lambda_function(name="bootstrap")
def bootstrap(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_custom_resource(event, context)
