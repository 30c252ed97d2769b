"""Schemathesis against the FastAPI blog with every check on, as ``st run --checks all``
runs it: the same engine and phases (coverage of boundary and invalid values, fuzzing in
positive and negative modes, stateful sequences that follow the responses' links), over
HTTP to the app under uvicorn on a loopback port, backed by the embedded server.

Zero failures of any kind: no 500, every status, header and body as the schema
declares, valid data accepted (``positive_data_acceptance``: a request the schema allows
is never refused as invalid), invalid data rejected (``negative_data_rejection``), and
no engine error.  The seed is fixed and the size fits CI (``MAX_EXAMPLES`` per operation
and phase); the test prints how many cases ran.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Iterator

import pymongo
import pytest
import schemathesis
import uvicorn
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events, from_schema

from adapters.http.app import create_app
from eventually import HANG_S

MAX_EXAMPLES = 100
SEED = 22
load_all_checks()


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


def _every_check(served: str) -> schemathesis.schemas.BaseSchema:
    """The blog's schema, configured as ``--checks all`` with every phase."""
    config = SchemathesisConfig()
    config.update(seed=SEED, max_failures=None)
    project = config.projects.override
    project.checks.update(included_check_names=["all"])
    project.generation.update(max_examples=MAX_EXAMPLES, database="none")
    project.update(request_timeout=HANG_S)
    return schemathesis.openapi.from_url(f"{served}/openapi.json", config=config)


def test_the_blog_api_passes_every_check(served: str) -> None:
    schema = _every_check(served)
    checks = schema.config.checks
    assert all(checks.get_by_name(name=name).enabled for name in CHECKS.get_all_names())
    cases: Counter[str] = Counter()
    failures: list[str] = []
    errors: list[str] = []
    finished = None
    for event in from_schema(schema).execute():
        if isinstance(event, (events.ScenarioFinished, events.FuzzScenarioFinished)):
            phase = getattr(event, "phase", "fuzzing")
            cases[getattr(phase, "value", str(phase))] += len(event.recorder.cases)
            for checks in event.recorder.checks.values():
                failures += [
                    f"{event.recorder.label}: {check.name}: {check.failure_info}"
                    for check in checks
                    if check.status == Status.FAILURE
                ]
        elif isinstance(event, (events.NonFatalError, events.FatalError)):
            errors.append(repr(event))
        elif isinstance(event, events.EngineFinished):
            finished = event
    print(f"\nschemathesis, every check: {sum(cases.values())} cases {dict(cases)}, "
          f"{len(failures)} failures, {len(errors)} errors")
    assert finished is not None and finished.stop_reason == "completed"
    assert not errors, errors[:3]
    assert not failures, "\n".join(dict.fromkeys(failures))
    assert all(cases[phase] > 0 for phase in ("coverage", "fuzzing", "stateful")), cases
