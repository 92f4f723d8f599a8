from __future__ import annotations

import copy
from typing import Any

import pytest

# The manifest of the spec's POST /v6/jobs/ example: the smallest useful job type.
MINIMAL = {
    "seedVersion": "1.0.0",
    "job": {
        "name": "test-job",
        "jobVersion": "1.0.0",
        "packageVersion": "1.0.0",
        "title": "Test Job",
        "description": "This is a test job",
        "maintainer": {"name": "John Doe", "email": "jdoe@example.com"},
        "timeout": 10,
        "interface": {
            "command": "",
            "inputs": {"files": [{"name": "input_a"}]},
            "outputs": {"files": [{"name": "output_a", "pattern": "*.png", "multiple": True}]},
        },
    },
}

# Every member Seed 1.0.0 defines, used at least once.
FULL = {
    "seedVersion": "1.0.0",
    "job": {
        "name": "my-job",
        "jobVersion": "1.2.3-rc.1+build.5",
        "packageVersion": "2.0.0",
        "title": "My first job",
        "description": "Reads an HDF5 file and outputs TIFF images and a CSV",
        "tags": ["hdf5", "tiff"],
        "maintainer": {
            "name": "John Doe",
            "email": "jdoe@example.com",
            "organization": "E-corp",
            "phone": "666-555-4321",
            "url": "http://www.example.com",
        },
        "timeout": 3600,
        "resources": {
            "scalar": [
                {"name": "cpus", "value": 1.5},
                {"name": "mem", "value": 64.0, "inputMultiplier": 4.0},
                {"name": "disk", "value": 10, "inputMultiplier": 2},
                {"name": "sharedMem", "value": 0},
            ]
        },
        "interface": {
            "command": "${INPUT_FILE} ${OUTPUT_DIR}",
            "inputs": {
                "files": [
                    {
                        "name": "INPUT_FILE",
                        "mediaTypes": ["image/x-hdf5-image"],
                        "partial": True,
                        "required": True,
                    },
                    {"name": "EXTRA_FILES", "multiple": True, "required": False},
                ],
                "json": [
                    {"name": "THRESHOLD", "type": "number"},
                    {"name": "LABEL", "type": "string", "required": False},
                ],
            },
            "outputs": {
                "files": [
                    {
                        "name": "output_tiffs",
                        "mediaType": "image/tiff",
                        "multiple": True,
                        "pattern": "out*.tif",
                    },
                    {"name": "output_csv", "mediaType": "text/csv", "pattern": "out*.csv", "required": False},
                ],
                "json": [
                    {"name": "cell_count", "key": "cellCount", "type": "integer"},
                    {"name": "status", "type": "string"},
                ],
            },
            "mounts": [
                {"name": "MOUNT_PATH", "path": "/the/container/path", "mode": "ro"},
                {"name": "SCRATCH", "path": "/scratch", "mode": "rw"},
                {"name": "REF", "path": "/ref"},
            ],
            "settings": [
                {"name": "DB_HOST", "secret": False},
                {"name": "DB_PASS", "secret": True},
                {"name": "MODE"},
            ],
        },
        "errors": [
            {
                "code": 2,
                "name": "bad-input",
                "title": "Bad input",
                "description": "Unreadable HDF5",
                "category": "data",
            },
            {"code": 1, "name": "crashed", "title": "Crashed", "category": "job"},
            {"code": 255, "name": "overflow"},
        ],
    },
}


@pytest.fixture
def minimal() -> dict[str, Any]:
    return copy.deepcopy(MINIMAL)


@pytest.fixture
def full() -> dict[str, Any]:
    return copy.deepcopy(FULL)
