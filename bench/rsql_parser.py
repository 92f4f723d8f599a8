"""Parse-time benchmark: `chalicelib.rsql.parse` against pyrsql's parser on the same queries.

Times the spec's example queries, a ~4,000-character query and a series of growing lengths (to
show time grows linearly with the length of `q`). Only parsing is timed on both sides: for
pyrsql that is `pyrsql.parsing.Parser(q).parse()` (lexer + parser, no semantic binding).

    .venv-bench/bin/python bench/rsql_parser.py [--markdown out.md] [--repeat 7]

pyrsql is optional: when it is not importable its column is left out with a note.
"""
from __future__ import annotations

import argparse
import sys
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chalicelib.rsql import MAX_COMPARISONS, MAX_QUERY_LENGTH, Comparison, Node, parse  # noqa: E402

PyrsqlParser: Any
try:
    from pyrsql.parsing import Parser as PyrsqlParser
except ImportError:  # depends on the interpreter running the bench
    PyrsqlParser = None

SPEC_QUERIES = [
    'description=="Teste Yade com batch"',
    'jobOwner=="adm*"',
    "priority==1",
    'algorithmName=="Teste_Progresso"',
    "algorithmName==Teste_Progresso",
    'executionMachine==40100;jobOwner=="admin"',
    'priority==1,jobOwner=="admin"',
    "description==*MS2",
    "(isDeleted==false);(description==*MS2)",
    'algorithmName=="Yade";exitStatus=="KILLED"',
    'paramLabel=="Sleeps"',
    "(paramLabel=='Sleeps');(paramValue=='3')",
    "(paramLabel=='Sleeps');(paramValue=in=('3','1'))",
    "submissionTime=='2019/06/12 21:24:25.342-0300'",
    "endTime=gt='2019/06/12 21:00+03';endTime=lt='2019/06/12 22:00+03'",
]

# Units of about 45 characters per comparison, so a 4,096-character query stays within the
# 100-comparison limit while mixing quoted text, wildcards, dates, lists and groups.
_UNITS = [
    'description=="nightly regression run number {i:04d} of the weekly batch*"',
    "endTime=gt='2019/06/12 21:00:00.000+0300'",
    "(jobOwner=in=(alice,bob,carol,dave,erin,frank);priority=ge={i})",
    "paramValue=out=('{i}','{i}0','{i}00','x/{i}.sgy')",
    "algorithmName==*Teste_Progresso_{i:04d}*",
]


def build_query(target: int) -> str:
    """A valid query of at most `target` characters, as close to it as the units allow."""
    parts: list[str] = []
    comparisons = length = i = 0
    while True:
        unit = _UNITS[i % len(_UNITS)].format(i=i)
        cost = _comparisons(parse(unit))
        extra = len(unit) + (1 if parts else 0)
        if length + extra > target or comparisons + cost > MAX_COMPARISONS:
            return (";" if i % 2 else ",").join(parts) if parts else unit
        parts.append(unit)
        length += extra
        comparisons += cost
        i += 1


def _comparisons(node: Node) -> int:
    return 1 if isinstance(node, Comparison) else sum(_comparisons(c) for c in node.children)


def best_time(fn: Callable[[], object], repeat: int) -> float:
    """Seconds per call: the best of `repeat` runs, each long enough (~0.1 s) to be stable."""
    timer = timeit.Timer(fn)
    number, _ = timer.autorange()
    return min(timer.repeat(repeat=repeat, number=number)) / number


def measure(q: str, repeat: int) -> tuple[float, float | None]:
    ours = best_time(lambda: parse(q), repeat)
    theirs = None
    if PyrsqlParser is not None:
        PyrsqlParser(q).parse()  # fail loudly if pyrsql cannot parse it: the comparison would be void
        theirs = best_time(lambda: PyrsqlParser(q).parse(), repeat)
    return ours, theirs


def _us(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds * 1e6:,.1f}"


def _ratio(ours: float, theirs: float | None) -> str:
    return "—" if theirs is None else f"{theirs / ours:,.1f}×"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def main(argv: list[str] | None = None) -> int:
    cli = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_argument("--markdown", type=Path, help="also write the tables to this markdown file")
    cli.add_argument("--repeat", type=int, default=5, help="timed runs per query (best is kept)")
    args = cli.parse_args(argv)

    big = build_query(4000)
    assert 3900 <= len(big) <= MAX_QUERY_LENGTH, len(big)
    named = [(q if len(q) <= 60 else q[:57] + "...", q) for q in SPEC_QUERIES]
    named.append((f"generated query ({len(big)} chars)", big))

    rows = []
    slower = []
    for label, q in named:
        ours, theirs = measure(q, args.repeat)
        rows.append([f"`{label}`" if "generated" not in label else label, str(len(q)), _us(ours),
                     _us(theirs), _ratio(ours, theirs)])
        if theirs is not None and theirs <= ours:
            slower.append(label)

    series = []
    for target in (256, 512, 1024, 2048, 4096):
        q = build_query(target)
        ours, theirs = measure(q, args.repeat)
        per_char = ours / len(q) * 1e9
        series.append([str(len(q)), _us(ours), f"{per_char:,.0f}", _us(theirs),
                       "—" if theirs is None else f"{theirs / len(q) * 1e9:,.0f}", _ratio(ours, theirs)])

    note = (f"pyrsql {_pyrsql_version()} (`pyrsql.parsing.Parser(q).parse()`)" if PyrsqlParser is not None
            else "pyrsql is not importable here: only our parser was timed")
    out = [
        f"Python {sys.version.split()[0]}; times are the best of {args.repeat} runs, µs per parse; {note}.",
        "",
        *_table(["query", "chars", "ours (µs)", "pyrsql (µs)", "pyrsql / ours"], rows),
        "",
        "Length scaling (same query shape, growing length):",
        "",
        *_table(["chars", "ours (µs)", "ours (ns/char)", "pyrsql (µs)", "pyrsql (ns/char)", "pyrsql / ours"],
                series),
    ]
    if slower:
        out += ["", "NOT faster than pyrsql on: " + ", ".join(slower)]
    text = "\n".join(out)
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n", encoding="utf-8")
    return 1 if slower else 0


def _pyrsql_version() -> str:
    from importlib.metadata import version

    return version("pyrsql")


if __name__ == "__main__":
    sys.exit(main())
