"""`python -m chalicelib.rsql '<query>'`: print the parsed tree as vector JSON (exit 0), or the
error with its position on stderr (exit 2)."""
from __future__ import annotations

import argparse
import json
import sys

from chalicelib.rsql.bind import bind
from chalicelib.rsql.errors import RsqlError
from chalicelib.rsql.messages import render
from chalicelib.rsql.parser import DEFAULT_OPERATORS, Operator, operator_table, parse


def main(argv: list[str] | None = None) -> int:
    args = _arguments().parse_args(argv)
    operators = None
    if args.operators:
        extra = [Operator(s.strip(), multi=True) for s in args.operators.split(",") if s.strip()]
        try:
            operator_table(extra)
        except ValueError as exc:
            print(f"error: --operators: {exc}", file=sys.stderr)
            return 2
        operators = (*DEFAULT_OPERATORS, *extra)
    try:
        tree = parse(args.query, operators)
        if args.bind:
            bind(tree)
    except RsqlError as error:
        print(f"error: {render(error, args.locale)}", file=sys.stderr)
        if error.position is not None:
            print(f"  {_one_line(args.query)}\n  {' ' * error.position}^", file=sys.stderr)
        return 2
    print(json.dumps(tree.to_vector(), ensure_ascii=False))
    return 0


def _arguments() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(prog="python -m chalicelib.rsql", description=__doc__)
    cli.add_argument("query", help="the RSQL text, as the q parameter holds it (URL-decoded)")
    cli.add_argument(
        "--operators",
        help="extra operators added to the default set, comma-separated, e.g. '=all=,=any='; "
        "they accept a value list",
    )
    cli.add_argument("--bind", action="store_true", help="also check fields, operators and values")
    cli.add_argument("--locale", default=None, help="language of error messages: en_US or pt_BR")
    return cli


def _one_line(query: str) -> str:
    # Keep the caret under the right character: whitespace controls become one space each.
    return query.replace("\t", " ").replace("\r", " ").replace("\n", " ")


if __name__ == "__main__":
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
    sys.exit(main())
