"""Fixtures for the RSQL tests: a history-shaped job like the spec's sample."""
from __future__ import annotations

import copy
from typing import Any

import pytest

_SPEC_JOB: dict[str, Any] = {
    "jobId": "admi@test.CBNNGZHYE2",
    "groupId": "admi@test.CBNNGZHYE2",
    "projectId": "admin/testeYade",
    "jobOwner": "admin",
    "automaticallyMachineSelection": False,
    "submissionMachines": None,
    "numberOfProcesses": 1,
    "numberOfProcessesByMachine": 1,
    "submissionTime": "2019-06-12T21:24:25.342",
    "description": "test yade pela web",
    "priority": 1,
    "multipleExecution": False,
    "jobType": "ALGORITHM",
    "numberOfAttempts": None,
    "executionMachine": "40100",
    "endTime": "2019-06-12T21:31:20.926",
    "exitCode": 0,
    "guiltyNodeId": None,
    "exitStatus": "SUCCESS",
    "cpuTime": 0.0,
    "wallclockTime": 412,
    "ramMemory": None,
    "algorithms": [
        {
            "algorithmId": "Yade",
            "algorithmVersion": "5.0.0",
            "algorithmName": "Yade",
            "parameters": [
                {"id": 86, "parameterId": "working_dir", "label": "Working Folder", "type": "INPUT_FILE",
                 "value": [".:DIRECTORY_TYPE"]},
                {"id": 87, "parameterId": "input_file", "label": "Script File (.py)", "type": "INPUT_FILE",
                 "value": ["teste/fiveParticles_v2.py:UNKNOWN"]},
                {"id": 88, "parameterId": "batch_run", "label": "Enable multiple runs", "type": "BOOLEAN",
                 "value": ["false"]},
                {"id": 89, "parameterId": "batch_file", "label": "Parameter Table File", "type": "INPUT_FILE",
                 "value": []},
                {"id": 90, "parameterId": "parallel_computation", "label": "Enable parallel computation",
                 "type": "BOOLEAN", "value": ["true"]},
                {"id": 91, "parameterId": "number_of_cores", "label": "The number of cores for a job",
                 "type": "INTEGER", "value": ["4"]},
            ],
        },
        {
            "algorithmId": "sleeper",
            "algorithmVersion": "1.2",
            "algorithmName": "Teste_Progresso",
            "parameters": [
                {"id": 1, "parameterId": "sleeps", "label": "Sleeps", "type": "INTEGER", "value": ["5"]},
                {"id": 2, "parameterId": "times", "label": "Times", "type": "INTEGER", "value": ["3", "1"]},
            ],
        },
    ],
    "flowId": None,
    "flowVersion": None,
    "flowName": None,
    "lastModifiedTime": "2019-06-12T21:31:20.926",
    "isDeleted": False,
    "jobStatus": "FINISHED",
}


@pytest.fixture
def job() -> dict[str, Any]:
    """The spec's sample job (exitStatus upper case, plus isDeleted/jobStatus) with a second
    algorithm whose parameter `Sleeps` has value 5 and `Times` has values 3 and 1."""
    return copy.deepcopy(_SPEC_JOB)
