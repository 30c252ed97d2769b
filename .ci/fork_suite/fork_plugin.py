"""pytest plugin for the async fork's own tests: this project in the fork's place.

Loaded by ``run.py`` (``-p fork_plugin``).  It changes how the tests import and where
they connect, nothing they assert:

- ``import persistence.engine`` activates the async API on the unmodified MongoEngine (the
  fork's names are part of it: ``mongoengine.async_context_managers``,
  ``mongoengine.base.datastructures.AsyncReferenceProxy``, ...);
- MongoEngine's default host becomes ``$FORK_SUITE_URI`` (the server ``run.py`` started),
  so ``connect_async(db=...)`` without a host reaches it instead of localhost:27017;
- the fork's private ``mongoengine.connection._connection_types`` (alias -> connection
  type), which the connection tests read and clear in their teardown, is given as a
  read-only view of this project's two registries;
- each test's outcome and first error line go to ``$FORK_SUITE_REPORT`` (JSON).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from typing import Any

from mongoengine import connection as me_connection

import persistence.engine  # noqa: F401  (activates the async API)
from persistence.engine import aliases


class ConnectionTypes(Mapping[str, str]):
    """alias -> ``"async"`` or ``"sync"``, read from the registries each time.

    ``clear()`` does nothing: the fork's teardown resets its own bookkeeping with it,
    while here the registries themselves are the record (``disconnect_async`` /
    ``disconnect`` remove aliases from them).
    """

    def _types(self) -> dict[str, str]:
        types = dict.fromkeys(me_connection._connection_settings, "sync")
        types.update(dict.fromkeys(aliases.async_aliases(), "async"))
        return types

    def __getitem__(self, alias: str) -> str:
        return self._types()[alias]

    def __iter__(self) -> Iterator[str]:
        return iter(self._types())

    def __len__(self) -> int:
        return len(self._types())

    def clear(self) -> None:
        """Nothing to reset (see the class docstring)."""


def pytest_configure(config: Any) -> None:
    uri = os.environ.get("FORK_SUITE_URI")
    if uri:
        me_connection.DEFAULT_HOST = uri
    me_connection._connection_types = ConnectionTypes()  # type: ignore[attr-defined]


_outcomes: dict[str, dict[str, str]] = {}


def _reason(report: Any) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message).splitlines()[0] if crash.message else ""
    if isinstance(report.longrepr, tuple):  # a skip: (file, line, reason)
        return str(report.longrepr[2])
    return str(report.longrepr).strip().splitlines()[-1] if report.longrepr else ""


def pytest_runtest_logreport(report: Any) -> None:
    entry = _outcomes.setdefault(report.nodeid, {"outcome": "passed", "reason": ""})
    if report.failed:
        if entry["outcome"] in ("passed", "skipped"):
            entry["outcome"] = "failed" if report.when == "call" else "error"
            entry["reason"] = f"{report.when}: {_reason(report)}"
    elif report.skipped and entry["outcome"] == "passed":
        entry["outcome"] = "skipped"
        entry["reason"] = _reason(report)


def pytest_collectreport(report: Any) -> None:
    if report.failed:  # a module that cannot be imported: its tests never ran
        _outcomes[report.nodeid] = {"outcome": "error", "reason": f"collect: {_reason(report)}"}


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    path = os.environ.get("FORK_SUITE_REPORT")
    if path:
        with open(path, "w") as out:
            json.dump(_outcomes, out, indent=1, sort_keys=True)
