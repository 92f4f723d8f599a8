"""The API Gateway authorizer of the deployed API (a Chalice built-in Lambda TOKEN authorizer).

It checks `Authorization: Bearer <token>` against the hashed tokens of the `api-tokens` table and
answers an IAM policy for the whole API (the gateway caches it per token for AUTHORIZER_TTL seconds, so
it must not depend on the route) with the principal as its context: `principalId`, `role` and
`projects` (comma-separated), which is what `chalicelib.auth` reads in gateway mode. An unknown,
malformed or revoked token gets a Deny policy (403 at the gateway); no header at all is a 401 from the
gateway itself. Tokens are minted by `python -m deploy.tokens`.

Routes get the authorizer only when the app runs in gateway mode (packaging sets it): locally, and in
tests, `chalicelib.auth` checks the bearer token itself and the local gateway must not run this.
"""
from __future__ import annotations

from typing import Any

from chalice import AuthResponse, Blueprint, Chalice
from chalice.app import AuthRequest

from chalicelib.domain import ROLES

blueprint = Blueprint(__name__)

AUTHORIZER_TTL = 300  # seconds the gateway caches a token's policy (a revocation waits at most this long)
PUBLIC_PATHS = frozenset({"/docs", "/openapi.json"})


class _Deny(AuthResponse):
    def _generate_policy(self, request: AuthRequest) -> dict[str, Any]:
        return {"Version": "2012-10-17", "Statement": [
            {"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": [request.method_arn]}]}


def authorize_token(token: str) -> tuple[str, dict[str, str]] | None:
    """`(principal name, context)` for a valid bearer header value, None otherwise."""
    from chalicelib.auth import token_digest
    from chalicelib.models.tokens import find_token
    scheme, _, value = (token or "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    record = find_token(token_digest(value.strip()))
    if record is None or not record.is_active or record.role not in ROLES:
        return None
    return record.name, {"principalId": record.name, "role": record.role, "projects": ",".join(record.projects)}


@blueprint.authorizer(ttl_seconds=AUTHORIZER_TTL, name="jobs_authorizer")
def jobs_authorizer(auth_request: AuthRequest) -> AuthResponse:
    found = authorize_token(auth_request.token)
    if found is None:
        return _Deny(routes=[], principal_id="anonymous")
    name, context = found
    return AuthResponse(routes=["*"], principal_id=name, context=context)


def protect_routes(app: Chalice) -> int:
    """Put the authorizer on every route but the public ones; returns how many routes it guards."""
    guarded = 0
    for path, methods in app.routes.items():
        if path in PUBLIC_PATHS:
            continue
        for method, entry in methods.items():
            if method == "OPTIONS":  # CORS preflight carries no credentials
                continue
            entry.authorizer = jobs_authorizer
            guarded += 1
    return guarded
