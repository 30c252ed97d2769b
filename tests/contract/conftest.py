"""One contract suite for the ports, run on every backend.

``backend`` makes units of work over any registry, sharing one backend state for the
test: the memory adapters, the mongo adapters on the real server, and the mongo adapters
on mongomock.  The repository and unit-of-work contract (``subject_suite``) runs through
it for any registered aggregate; ``uow_factory`` gives the reference application's
units of work to the tests of its queries, relations, files and services.  Backends
lacking a capability skip with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from adapter_fixtures import (  # noqa: F401
    mongo_backend,
    mongo_uow_factory,
    mongomock_backend,
    mongomock_uow_factory,
)
from adapters.registry import registry
from persistence.memory import InMemoryStore, InMemoryUnitOfWork
from persistence.registry import Registry

CAPABILITIES: dict[str, frozenset[str]] = {
    "memory": frozenset({"transactions", "files"}),
    "mongo": frozenset({"transactions", "files"}),
    "mongomock": frozenset(),  # no GridFS: AsyncGridFS needs a real AsyncDatabase
}


@pytest.fixture(params=sorted(CAPABILITIES))
def backend_name(request: pytest.FixtureRequest) -> str:
    """The backend under test."""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def uow_factory(backend_name: str, request: pytest.FixtureRequest) -> Callable[[], Any]:
    """Makes units of work sharing one backend state for this test."""
    if backend_name == "memory":
        store = InMemoryStore()
        return lambda: InMemoryUnitOfWork(registry, store)
    return request.getfixturevalue(f"{backend_name}_uow_factory")  # type: ignore[no-any-return]


@pytest.fixture
def backend(backend_name: str, request: pytest.FixtureRequest) -> Callable[[Registry], Any]:
    """Makes a unit of work over any registry, all sharing one backend state for this test."""
    if backend_name == "memory":
        store = InMemoryStore()
        return lambda registry: InMemoryUnitOfWork(registry, store)
    return request.getfixturevalue(f"{backend_name}_backend")  # type: ignore[no-any-return]


@pytest.fixture
def requires(backend_name: str) -> Callable[[str], None]:
    """``requires("transactions")`` skips the test on a backend without it."""

    def check(capability: str) -> None:
        if capability not in CAPABILITIES[backend_name]:
            pytest.skip(f"{backend_name} has no {capability}")

    return check
