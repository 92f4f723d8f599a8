"""The query and path parameters of every operation, declared once (`chalicelib.params.Param`): the routes
check a request against them at the door (`handlers.common.api_route`) and `chalicelib.openapi` writes them
into the document. Bodies are declared beside the use case that reads them (`BodySpec`s).

Kept free of heavy imports (every Lambda imports the routes at cold start): the job sort keys and the
history's sortable fields are spelt out here and checked against their sources by tests/unit/test_api_inputs.py."""
from __future__ import annotations

from chalicelib.domain import ERROR_CATEGORIES, EXECUTION_STATUSES, JOB_STATUSES
from chalicelib.params import MAX_CURSOR, MAX_ID, MAX_PAGE, MAX_QUERY_STRING, Param

JOB_SORT_KEYS = (
    "id", "status", "created", "queued", "started", "ended", "last_status_change", "last_modified", "superseded",
    "is_superseded", "num_exes", "max_tries", "priority", "input_file_size", "source_started", "source_ended",
    "source_sensor_class", "source_sensor", "source_collection", "source_task", "job_type", "job_type__name",
    "job_type__version", "job_type__id", "duration", "recipe", "batch", "node", "error", "error.category",
    "error__category", "error.title", "error__title")
HISTORY_SORTABLE = (
    "jobId", "groupId", "projectId", "jobOwner", "automaticallyMachineSelection", "numberOfProcesses",
    "numberOfProcessesByMachine", "submissionTime", "description", "priority", "multipleExecution", "jobType",
    "numberOfAttempts", "executionMachine", "endTime", "exitCode", "guiltyNodeId", "exitStatus", "cpuTime",
    "wallclockTime", "ramMemory", "flowId", "flowVersion", "flowName", "lastModifiedTime", "isDeleted", "jobStatus")
HISTORY_BOOLEANS = ("true", "false", "True", "False", "TRUE", "FALSE")
MAX_HISTORY_LIMIT = 1000
MAX_RSQL_LENGTH = 4096      # rsql.MAX_QUERY_LENGTH
LOG_FORMATS = ("json", "txt", "html")
LOG_IDS = ("stdout", "stderr", "combined")


def text(name: str, description: str, repeat: bool = False) -> Param:
    return Param(name, "string", description, repeat=repeat, max_length=MAX_QUERY_STRING)


def ids(name: str, description: str) -> Param:
    return Param(name, "integer", description, repeat=True, minimum=0, maximum=MAX_ID)


def path_id(name: str, what: str) -> Param:
    return Param(name, "integer", f"The {what}'s id.", location="path", minimum=0, maximum=MAX_ID)


PAGE = Param("page", "integer", "Page number, from 1 (default 1). A page past the last, or not a number from 1 to "
             f"{MAX_PAGE}, is 404 \"Invalid page.\" (as the original answered).", minimum=1, maximum=MAX_PAGE,
             not_found=True)
PAGE_SIZE = Param("page_size", "lenient", "Rows a page, 1-1000 (default 100): a value that is not an integer of at "
                  "least 1 falls back to 100 and a larger one is taken as 1000, as the original did.")
PAGING = (PAGE, PAGE_SIZE)
CURSOR = Param("cursor", "string", "Opaque position set by the service in `next`/`previous` links; makes each page "
               "cost the same as the first. Only valid with the filters and order it came with.",
               max_length=MAX_CURSOR)

JOB_FILTERS = (
    Param("started", "datetime", "Only jobs whose last_modified is at or after this time."),
    Param("ended", "datetime", "Only jobs whose last_modified is at or before this time (after `started`)."),
    Param("source_started", "datetime", "Only jobs whose source_started is at or after this time."),
    Param("source_ended", "datetime", "Only jobs whose source_ended is at or before this time."),
    text("source_sensor_class", "Source sensor class.", repeat=True),
    text("source_sensor", "Source sensor.", repeat=True),
    text("source_collection", "Source collection.", repeat=True),
    text("source_task", "Source task.", repeat=True),
    text("source_tasks", "Source task (the spec's spelling; the same as `source_task`).", repeat=True),
    Param("status", "string", "Job status.", repeat=True, enum=JOB_STATUSES),
    ids("job_id", "Job id."),
    ids("job_type_id", "Job type id."),
    text("job_type_name", "Job type name (every version).", repeat=True),
    ids("batch_id", "Batch id."),
    ids("recipe_id", "Recipe id."),
    Param("error_category", "string", "Error category.", repeat=True, enum=ERROR_CATEGORIES),
    ids("error_id", "Error id."),
    Param("is_superseded", "boolean", "Superseded or not; absent means both."),
    Param("order", "string", "Sort key, `-` prefix for descending; repeat to sort by several. Default "
          "`last_modified`; ties break by id.", repeat=True,
          enum=JOB_SORT_KEYS + tuple(f"-{key}" for key in JOB_SORT_KEYS), message='Invalid order field: "{value}"'),
)
FILE_FILTERS = (
    Param("started", "datetime", "Start of the time range (see time_field)."),
    Param("ended", "datetime", "End of the time range (see time_field; after `started`)."),
    Param("time_field", "string", "Which times the range applies to (default last_modified).",
          enum=("source", "data", "last_modified")),
    text("file_name", "Exact file name.", repeat=True),
)

LIST_JOBS = PAGING + (CURSOR,) + JOB_FILTERS
JOB_INPUT_FILES = PAGING + FILE_FILTERS + (text("job_input", "Input name.", repeat=True),)
JOB_EXECUTIONS = PAGING + (
    Param("status", "string", "Execution status.", repeat=True, enum=EXECUTION_STATUSES),
    ids("node_id", "Node id."),
    ids("error_id", "Error id."),
    Param("error_category", "string", "Error category.", repeat=True, enum=ERROR_CATEGORIES),
)
EXECUTION_LOG = (
    Param("format", "string", "Response format (default json).", enum=LOG_FORMATS),
    Param("started", "datetime", "Only lines logged at or after this time (to tail a running job)."),
)
LIST_JOB_TYPES = PAGING + (
    Param("is_active", "boolean", "Active or not."),
    Param("is_system", "boolean", "System or not."),
    text("name", "Exact name.", repeat=True),
    ids("id", "Id."),
    text("keyword", "Text found in name, title or description."),
)
LIST_FILES = PAGING + FILE_FILTERS + (ids("job_id", "Producing job."),
                                      Param("is_deleted", "boolean", "Deleted or not."))
STATUS_WINDOW = PAGING + (
    Param("started", "datetime", "Start of the window (default PT3H)."),
    Param("ended", "datetime", "End of the window (after `started`)."),
)
HISTORY = (
    Param("q", "string", "RSQL query; absent means every job you may see (an empty `q=` is a 400).",
          min_length=1, max_length=MAX_RSQL_LENGTH),
    Param("offset", "integer", "Matches to skip (default 0).", minimum=0, maximum=MAX_ID),
    Param("limit", "integer", f"Jobs to return, 1-{MAX_HISTORY_LIMIT} (default {MAX_HISTORY_LIMIT}).",
          minimum=1, maximum=MAX_HISTORY_LIMIT),
    Param("attr", "string", "Scalar field to sort by (default submissionTime); ties break by jobId.",
          enum=HISTORY_SORTABLE),
    Param("asc", "string", "true ascending, false descending (default false).", enum=HISTORY_BOOLEANS),
    Param("showParam", "string", "Include each algorithm's parameters (default true).", enum=HISTORY_BOOLEANS),
    Param("locale", "string", "Language of error messages: en_US (default) or pt_BR (others fall back to en_US).",
          max_length=16),
    Param("explain", "string", "Add `plan`: index, partitions, key condition, items read.", enum=HISTORY_BOOLEANS),
)
PAGED = PAGING
