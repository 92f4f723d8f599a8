"""Modules imported on first use. Every Lambda function imports `app.py` (and so every handler module)
at cold start, while each invocation needs only its own route's use case: handlers name their use
cases through `lazy(...)` so a cold start pays only for what runs."""
from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule:
    __slots__ = ("_name", "_module")

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.load(), attribute)

    def load(self) -> ModuleType:
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return self._module


_NAMED: list[LazyModule] = []


def lazy(name: str) -> Any:
    module = LazyModule(name)
    _NAMED.append(module)
    return module


def import_all() -> None:
    """Every module named through `lazy` imported now: for a long-lived server (the local stack's API
    processes), where a first request should not pay for them."""
    for module in _NAMED:
        module.load()
