"""Schemathesis against the FastAPI blog, every check on (``--checks all``): generated
requests, valid and invalid, sent over HTTP to the app under uvicorn on a loopback port,
backed by the embedded server.  No 500, every status and body as the schema declares,
valid data accepted, invalid data rejected.

The size fits CI: a few examples per operation and phase (``MAX_EXAMPLES``).
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pymongo
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.generation import GenerationMode

from eventually import HANG_S
from examples.fastapi_blog.app import create_app

MAX_EXAMPLES = 25
load_all_checks()
ALL_CHECKS = CHECKS.get_all()


@pytest.fixture(scope="module")
def served(mongodb_uri: str) -> Iterator[str]:
    """The blog under uvicorn in a thread, on a fresh database; its base URL."""
    db = f"schema_{uuid.uuid4().hex[:10]}"
    config = uvicorn.Config(
        create_app(uri=mongodb_uri, db=db), host="127.0.0.1", port=0, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-blog", daemon=True)
    thread.start()
    started = threading.Event()

    def wait_started() -> None:
        while not server.started and thread.is_alive():
            started.wait(0.05)

    wait_started()
    assert server.started, "uvicorn did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(HANG_S)
        assert not thread.is_alive(), "uvicorn did not stop"
        with pymongo.MongoClient(mongodb_uri) as client:
            client.drop_database(db)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_blog_api_conforms(served: str, mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_url(f"{served}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 11
    sent: Counter[int] = Counter()
    unsatisfiable: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def conforms(case: Any) -> None:
            response = case.call_and_validate(base_url=served, checks=ALL_CHECKS, timeout=HANG_S)
            sent[response.status_code] += 1

        try:
            conforms()
        except Unsatisfiable:  # nothing invalid to send (a free-form path id): skipped
            assert mode is GenerationMode.NEGATIVE
            unsatisfiable.append(operation.label)
    print(f"\nschemathesis ({mode.value}): {sum(sent.values())} cases, statuses {dict(sent)}; "
          f"no invalid request possible for {unsatisfiable}")
    assert sent and 500 not in sent
