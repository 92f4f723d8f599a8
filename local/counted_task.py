"""`python -m local.counted_task pre|post`: the ECS task's program with its AWS calls counted into
JOBS_COUNT_CALLS_FILE (the local task agent runs it in place of `chalicelib.runners.ecs_task` when a
benchmark counts calls: in AWS these calls are the task's, paid like the service's)."""
from __future__ import annotations

import sys

from chalicelib.runners.ecs_task import main
from local.call_counter import count_aws_calls, write_counts

if __name__ == "__main__":
    counts = count_aws_calls()
    code = main(sys.argv[1:])
    write_counts(counts)
    raise SystemExit(code)
