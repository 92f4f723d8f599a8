"""Persistence of API tokens for the deployed authorizer: only digests are stored, a plain token is
seen once, when it is minted."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chalicelib.models.tables import ApiToken


@dataclass(frozen=True)
class TokenRecord:
    sha256: str
    name: str
    role: str
    projects: tuple[str, ...]
    created: datetime
    revoked: datetime | None = None

    @property
    def is_active(self) -> bool:
        return self.revoked is None


def _record(item: ApiToken) -> TokenRecord:
    projects = tuple(str(project) for project in item.projects or ())
    return TokenRecord(item.sha256, item.name, item.role, projects, item.created, item.revoked)


def find_token(sha256: str) -> TokenRecord | None:
    """The token with this digest (revoked or not), or None."""
    try:
        return _record(ApiToken.get(sha256))
    except ApiToken.DoesNotExist:
        return None


def store_token(sha256: str, name: str, role: str, projects: list[str], now: datetime) -> None:
    """Record a new token; a digest already stored is refused (a collision means a reused token)."""
    ApiToken(sha256=sha256, name=name, role=role, projects=list(projects), created=now).save(
        condition=ApiToken.sha256.does_not_exist())


def revoke_tokens_of(name: str, now: datetime) -> int:
    """Revoke every active token of principal `name`; returns how many (a scan: an admin action, rare)."""
    count = 0
    for item in ApiToken.scan(ApiToken.name == name):
        if item.revoked is None:
            item.update(actions=[ApiToken.revoked.set(now)])
            count += 1
    return count


def list_tokens() -> list[TokenRecord]:
    return [_record(item) for item in ApiToken.scan()]
