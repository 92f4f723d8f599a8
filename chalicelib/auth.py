"""Who is calling: one authorizer seam for every route.

Locally, callers present `Authorization: Bearer <token>`; tokens live (as SHA-256 digests) in a JSON
file named by JOBS_TOKENS_FILE. In AWS the API Gateway authorizer has already authenticated the
caller and put its principal in the request context; we only read it.
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import threading
from dataclasses import dataclass
from typing import Any, Mapping

from chalicelib.config import get_settings
from chalicelib.domain import ROLES
from chalicelib.errors import Forbidden, InvalidInput, Unauthenticated


@dataclass(frozen=True)
class Principal:
    name: str
    role: str
    projects: tuple[str, ...]

    def has_role(self, needed: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(needed)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def default_project(self) -> str | None:
        return self.projects[0] if self.projects else None


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def write_tokens_file(path: str, entries: list[dict[str, Any]]) -> None:
    """`entries`: {"token" or "sha256", "name", "role", "projects"}; plain tokens are stored hashed."""
    stored = []
    for entry in entries:
        digest = entry.get("sha256") or token_digest(entry["token"])
        stored.append({"sha256": digest, "name": entry["name"], "role": entry["role"],
                       "projects": list(entry.get("projects", []))})
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump({"tokens": stored}, handle, indent=2)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


class _TokenFile:
    """Tokens read from the file, re-read when the file changes (mtime), so adding a token needs no
    restart."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._path: str | None = None
        self._mtime = 0.0
        self._by_digest: dict[str, Principal] = {}

    def lookup(self, path: str, token: str) -> Principal | None:
        with self._lock:
            try:
                mtime = os.stat(path).st_mtime
            except OSError:
                return None
            if path != self._path or mtime != self._mtime:
                with open(path, encoding="utf-8") as handle:
                    data = json.load(handle)
                self._by_digest = {
                    entry["sha256"]: Principal(entry["name"], entry["role"], tuple(entry.get("projects", [])))
                    for entry in data.get("tokens", []) if entry.get("role") in ROLES
                }
                self._path, self._mtime = path, mtime
            return self._by_digest.get(token_digest(token))


def _token_file() -> _TokenFile:
    """The process's token file reader, kept by the composition root."""
    from chalicelib.wiring import caches
    held = caches()
    with held.lock:
        if held.tokens is None:
            held.tokens = _TokenFile()
        reader: _TokenFile = held.tokens
        return reader


def authenticate(headers: Mapping[str, str], context: Mapping[str, Any]) -> Principal:
    settings = get_settings()
    if settings.auth_mode == "gateway":
        return _from_gateway(context)
    header = headers.get("authorization") or ""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Authentication credentials were not provided.")
    principal = _token_file().lookup(settings.tokens_file, token.strip()) if settings.tokens_file else None
    if principal is None:
        raise Unauthenticated("Invalid token.")
    return principal


def _from_gateway(context: Mapping[str, Any]) -> Principal:
    authorizer = context.get("authorizer") or {}
    claims = authorizer.get("claims") or authorizer  # JWT authorizers nest their claims
    name = claims.get("principalId") or claims.get("sub")
    role = claims.get("role") or claims.get("custom:role") or "viewer"
    if not name:
        raise Unauthenticated("Authentication credentials were not provided.")
    if role not in ROLES:
        raise Forbidden(f"Unknown role: {role}")
    projects = claims.get("projects") or claims.get("custom:projects") or ""
    if isinstance(projects, str):
        projects = [p for p in projects.split(",") if p]
    return Principal(str(name), role, tuple(projects))


def require(principal: Principal, role: str) -> None:
    if not principal.has_role(role):
        raise Forbidden(f"This action needs the {role} role.")


MAX_PROJECT_NAME = 128


def choose_project(principal: Principal, requested: str | None) -> str | None:
    """The project a creation is recorded under: the one asked for (must be the caller's, unless
    admin), else the caller's first. A name longer than 128 characters or holding control characters is a 400
    (a project name is a key of the store's indexes, which cap their size)."""
    if requested and (len(requested) > MAX_PROJECT_NAME or any(ord(c) < 32 or ord(c) == 127 for c in requested)):
        raise InvalidInput(f'The "X-Jobs-Project" header must be a project name of at most {MAX_PROJECT_NAME} '
                           "characters, without control characters", field="X-Jobs-Project")
    if requested:
        if requested not in principal.projects and not principal.is_admin:
            raise Forbidden(f"Not a member of project: {requested}")
        return requested
    return principal.default_project
