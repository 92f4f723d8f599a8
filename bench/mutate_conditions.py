"""Mutation check of the job state preconditions: does the test suite notice when one is gone?

Every state change in `chalicelib/models/job_state.py` is a conditional write, and the conditions are what
keep duplicate, stale and racing events harmless. A condition no test depends on can be deleted by a
refactor with every test green. For each mutation below (one condition replaced by `None`, or one conjunct
of it dropped), this script writes the mutant over the file, runs the tests, and restores the original -
always, also on Ctrl-C or SIGTERM. A mutant is KILLED when a test fails, SURVIVED when all pass.

    .venv/bin/python -m bench.mutate_conditions            # every mutation, the invariant-relevant tests
    .venv/bin/python -m bench.mutate_conditions --full     # ... against tests/unit + tests/functional
    .venv/bin/python -m bench.mutate_conditions -k cancel  # only mutations whose name holds "cancel"
    .venv/bin/python -m bench.mutate_conditions -k both --tests tests/functional/test_bulk_jobs.py

Exit status: 0 when every mutant is killed; 1 when one survives or its run breaks; 2 when a snippet is not
found exactly once in job_state.py (it changed shape: update MUTATIONS, which is all there is to update).

Not listed, on purpose: dropping the `Job.id == ...` conjunct of a job condition. It only means "the item
exists", which every other conjunct (num_exes, status) already implies, so no test can tell the difference.
Nor dropping `_unmoved(job)` (last_modified as read, which the job counters move from): every service write
that moves last_modified also moves the status or exe_num, so only a write from outside the service could
make it decide alone; the counters' exactness tests (tests/functional/test_job_counts.py) cover it.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET = REPO / "chalicelib" / "models" / "job_state.py"
# Enough to kill every mutant, fastest first (pytest -x stops at the first failure).
TESTS = ["tests/functional/test_state_invariants.py", "tests/functional/test_dispatch.py",
         "tests/functional/test_bulk_jobs.py"]
FULL = ["tests/unit", "tests/functional"]


@dataclass(frozen=True)
class Mutation:
    name: str
    edits: tuple[tuple[str, str], ...]  # (exact snippet in job_state.py, its replacement), each found once


def mutation(name: str, old: str, new: str, *more: tuple[str, str]) -> Mutation:
    return Mutation(name, ((old, new), *more))


# The job conditions are `_current(job_id, exe_num, *statuses)` = id & num_exes & status; a conjunct is
# dropped by writing the call out without it.
CLAIM_JOB = '_current(job.id, execution.exe_num, "QUEUED")'
CLAIM_EXECUTION = "JobExecution.job_id.does_not_exist()"
PHASE_JOB = '_current(job_id, exe_num, "RUNNING")'
END_JOB = "_current(job.id, exe_num, job.status)"
END_EXECUTION = 'condition=JobExecution.status == "RUNNING")'
CANCEL_PLAIN = "transaction.update(Job(job.id), actions=actions, condition=condition)\n        else:"
CANCEL_RUNNING_JOB = "actions=actions + [Job.ended.set(now)], condition=condition)"
CANCEL_RUNNING_EXECUTION = 'condition=JobExecution.status == "RUNNING",'
REQUEUE = "transaction.update(Job(job.id), actions=actions, condition=condition)\n        _count("
REQUEUE_CONDITION = ("(Job.id == job.id) & (Job.num_exes == job.num_exes) & (Job.status == job.status)"
                     " & _unmoved(job)\n                 & (Job.is_superseded")
REQUEUE_SUPERSEDED = "\n                 & (Job.is_superseded.does_not_exist() | (Job.is_superseded == False))"

CANCELED_END = '], JobExecution.status == "RUNNING")'

MUTATIONS = [
    mutation("claim: job condition -> None", CLAIM_JOB, "None"),
    mutation("claim: job condition without num_exes", CLAIM_JOB,
             '(Job.id == job.id) & Job.status.is_in("QUEUED")'),
    mutation("claim: job condition without status", CLAIM_JOB,
             "(Job.id == job.id) & (Job.num_exes == execution.exe_num)"),
    mutation("claim: execution attribute_not_exists -> None", CLAIM_EXECUTION, "None"),
    mutation("claim: both conditions -> None", CLAIM_JOB, "None", (CLAIM_EXECUTION, "None")),
    mutation("record_phase: condition -> None", PHASE_JOB, "None"),
    mutation("record_phase: without num_exes", PHASE_JOB, '(Job.id == job_id) & Job.status.is_in("RUNNING")'),
    mutation("record_phase: without status", PHASE_JOB, "(Job.id == job_id) & (Job.num_exes == exe_num)"),
    mutation("end_execution: job condition -> None", END_JOB, "None"),
    mutation("end_execution: job condition without num_exes", END_JOB,
             "(Job.id == job.id) & (Job.status == job.status)"),
    mutation("end_execution: job condition without status", END_JOB,
             "(Job.id == job.id) & (Job.num_exes == exe_num)"),
    mutation("end_execution: execution status == RUNNING -> None", END_EXECUTION, "condition=None)"),
    mutation("end_execution: both conditions (job, execution) -> None", END_JOB, "None",
             (END_EXECUTION, "condition=None)")),
    mutation("end_execution: job data exists -> None", "JobData.job_id.exists()", "None"),
    mutation("set_unmet_resources: job type exists -> None", "JobType.id.exists()", "None"),
    mutation("cancel (not running): condition -> None", CANCEL_PLAIN,
             CANCEL_PLAIN.replace("condition=condition)", "condition=None)")),
    mutation("cancel (not running): without num_exes", CANCEL_PLAIN,
             CANCEL_PLAIN.replace("condition=condition)",
                                  "condition=(Job.id == job.id) & (Job.status == job.status))")),
    mutation("cancel (not running): without status", CANCEL_PLAIN,
             CANCEL_PLAIN.replace("condition=condition)",
                                  "condition=(Job.id == job.id) & (Job.num_exes == job.num_exes))")),
    mutation("cancel (running): job condition -> None", CANCEL_RUNNING_JOB,
             CANCEL_RUNNING_JOB.replace("condition=condition", "condition=None")),
    mutation("cancel (running): job condition without num_exes", CANCEL_RUNNING_JOB,
             CANCEL_RUNNING_JOB.replace("condition=condition",
                                        "condition=(Job.id == job.id) & (Job.status == job.status)")),
    mutation("cancel (running): job condition without status", CANCEL_RUNNING_JOB,
             CANCEL_RUNNING_JOB.replace("condition=condition",
                                        "condition=(Job.id == job.id) & (Job.num_exes == job.num_exes)")),
    mutation("cancel (running): execution status == RUNNING -> None", CANCEL_RUNNING_EXECUTION, "condition=None,"),
    mutation("cancel (running): both conditions (job, execution) -> None", CANCEL_RUNNING_JOB,
             CANCEL_RUNNING_JOB.replace("condition=condition", "condition=None"),
             (CANCEL_RUNNING_EXECUTION, "condition=None,")),
    mutation("requeue: condition -> None", REQUEUE, REQUEUE.replace("condition=condition)", "condition=None)")),
    mutation("requeue: without num_exes", REQUEUE_CONDITION,
             REQUEUE_CONDITION.replace(" & (Job.num_exes == job.num_exes)", "")),
    mutation("requeue: without status", REQUEUE_CONDITION,
             REQUEUE_CONDITION.replace(" & (Job.status == job.status)", "")),
    mutation("requeue: without is_superseded", REQUEUE_SUPERSEDED, ""),
    mutation("end_canceled_execution: execution status == RUNNING -> None", CANCELED_END, "], None)"),
]


def apply(source: str, m: Mutation) -> str:
    for old, new in m.edits:
        source = source.replace(old, new, 1)
    return source


def missing_snippets(source: str, mutations: list[Mutation]) -> list[str]:
    problems = []
    for m in mutations:
        for old, _ in m.edits:
            found = source.count(old)
            if found != 1:
                problems.append(f"{m.name}: snippet found {found} times (expected once): {old!r}")
    return problems


def first_failure(output: str) -> str:
    found = re.search(r"^(?:FAILED|ERROR) (.+?)(?: - .*)?$", output, re.MULTILINE)
    return found.group(1) if found else ""


def run_tests(tests: list[str]) -> tuple[int, str]:
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-m", "not e2e", "-n", "0",
               *tests]
    # No .pyc of a mutant is written: one could be taken for the next mutant of the same size and second.
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    return done.returncode, done.stdout + done.stderr


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt  # so SIGTERM restores the file too


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="run tests/unit + tests/functional for each mutant")
    parser.add_argument("-k", dest="only", default="", help="only mutations whose name contains this")
    parser.add_argument("--tests", nargs="+", help="run these test paths/node ids instead (to see what kills what)")
    parser.add_argument("--skip-baseline", action="store_true", help="do not first check the tests pass unmutated")
    args = parser.parse_args(argv)
    tests = args.tests or (FULL if args.full else TESTS)
    selected = [m for m in MUTATIONS if args.only in m.name]

    original = TARGET.read_text()
    problems = missing_snippets(original, MUTATIONS)
    if problems:
        print(f"{TARGET.relative_to(REPO)} changed shape; update MUTATIONS in {Path(__file__).name}:")
        print("\n".join(f"  {p}" for p in problems))
        return 2
    broken = []
    for m in selected:
        try:
            compile(apply(original, m), str(TARGET), "exec")
        except SyntaxError as error:
            broken.append(f"{m.name}: the mutant does not compile: {error}")
    if broken:
        print("\n".join(broken))
        return 2

    if not args.skip_baseline:
        print(f"baseline: {' '.join(tests)} ...", flush=True)
        code, output = run_tests(tests)
        if code != 0:
            print(f"the tests fail without any mutation ({first_failure(output) or 'exit ' + str(code)}):")
            print(output[-3000:])
            return 1

    stat = TARGET.stat()
    backup = Path(tempfile.gettempdir()) / f"mutate_conditions-{os.getpid()}-job_state.py"
    shutil.copy2(TARGET, backup)
    print(f"(original kept in {backup} until the end)", flush=True)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    rows = []
    try:
        for m in selected:
            TARGET.write_text(apply(original, m))
            started = time.monotonic()
            code, output = run_tests(tests)
            if code == 1:
                verdict = "killed"
            elif code == 0:
                verdict = "SURVIVED"
            else:  # interrupted, internal error, usage, no tests: the run says nothing about the mutant
                verdict = f"BROKEN (exit {code})"
            rows.append((m.name, verdict, first_failure(output), time.monotonic() - started))
            print(f"  {verdict:9} {m.name}  [{rows[-1][3]:.0f} s]", flush=True)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        return 130
    finally:
        TARGET.write_text(original)
        os.utime(TARGET, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # as it was: no cached bytecode invalidated
        signal.signal(signal.SIGTERM, previous)
        if TARGET.read_text() == original:
            backup.unlink(missing_ok=True)
        else:
            print(f"RESTORE FAILED: copy {backup} over {TARGET}")

    width = max(len(name) for name, *_ in rows)
    print(f"\n| {'mutation':{width}} | result   | first failing test |")
    print(f"|{'-' * (width + 2)}|----------|--------------------|")
    for name, verdict, test, _ in rows:
        print(f"| {name:{width}} | {verdict:8} | {test} |")
    bad = [row for row in rows if row[1] != "killed"]
    print(f"\n{len(rows) - len(bad)} of {len(rows)} mutants killed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
