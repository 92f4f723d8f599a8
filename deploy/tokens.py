"""Admin command for the deployed API's bearer tokens (the authorizer's `api-tokens` table):

    python -m deploy.tokens mint --stage dev --name alice --role admin --projects a,b   # prints the token once
    python -m deploy.tokens revoke --stage dev --name alice                            # every token of alice
    python -m deploy.tokens list --stage dev

Uses the caller's AWS credentials; only the SHA-256 digest of a token is stored. A revocation takes
effect within the gateway's authorizer cache TTL (300 s)."""
from __future__ import annotations

import argparse
import os
import sys

from deploy.cli import stack_name


def _use_stack(stage: str, region: str) -> None:
    os.environ["JOBS_TABLE_PREFIX"] = stack_name(stage) + "-"
    os.environ["AWS_DEFAULT_REGION"] = region
    from chalicelib.config import reset_settings
    reset_settings()


def mint(name: str, role: str, projects: list[str]) -> str:
    from chalicelib import clock
    from chalicelib.auth import new_token, token_digest
    from chalicelib.domain import ROLES
    from chalicelib.models import tokens
    from chalicelib.models.tables import configure_tables
    from chalicelib.wiring import services
    if role not in ROLES:
        raise SystemExit(f"role must be one of {', '.join(ROLES)}")
    settings = services().settings
    configure_tables(settings.table_prefix, settings.region)
    token = new_token()
    tokens.store_token(token_digest(token), name, role, projects, clock.now())
    return token


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("mint", "revoke", "list"))
    parser.add_argument("--stage", default=os.environ.get("STAGE", "dev"))
    parser.add_argument("--region", default=os.environ.get("REGION") or os.environ.get("AWS_DEFAULT_REGION")
                        or "us-east-1")
    parser.add_argument("--name")
    parser.add_argument("--role", default="viewer")
    parser.add_argument("--projects", default="")
    args = parser.parse_args(argv)
    _use_stack(args.stage, args.region)
    from chalicelib import clock
    from chalicelib.models import tokens
    if args.command == "mint":
        if not args.name:
            raise SystemExit("--name is required")
        token = mint(args.name, args.role, [p for p in args.projects.split(",") if p])
        sys.stdout.write(f"{token}\n")
        sys.stderr.write(f"minted a {args.role} token for {args.name}; it is not shown again\n")
    elif args.command == "revoke":
        if not args.name:
            raise SystemExit("--name is required")
        sys.stdout.write(f"revoked {tokens.revoke_tokens_of(args.name, clock.now())} tokens of {args.name}\n")
    else:
        for record in tokens.list_tokens():
            state = "revoked" if record.revoked else "active"
            sys.stdout.write(f"{record.name}\t{record.role}\t{','.join(record.projects)}\t{state}\t"
                             f"{record.sha256[:12]}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
