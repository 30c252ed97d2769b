"""docs/testing.md is enough to start a project: the files it documents, and nothing
else, written to an empty directory, make a project whose tests pass.

A documented file is a line ``File `<name>`:`` followed by one fenced block (```py
blocks are not run by test_doc_examples.py: they are files, not examples).  The project
runs in a subprocess with this interpreter, the repository on ``PYTHONPATH`` (as an
install would put it), and the embedded server started by the plugin as the page says,
or ``MONGODB_URI`` when the suite itself runs on another server.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from eventually import HANG_S

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "docs" / "testing.md"
FILE = re.compile(r"^File `([^`]+)`[^\n]*:\n\n```\w*\n(.*?)^```", re.M | re.S)


def documented_files() -> dict[str, str]:
    return {name: body for name, body in FILE.findall(PAGE.read_text(encoding="utf-8"))}


def test_the_page_documents_the_whole_configuration() -> None:
    files = documented_files()
    assert set(files) == {"pyproject.toml", "conftest.py", "test_services.py"}
    config = files["pyproject.toml"]
    assert 'asyncio_mode = "auto"' in config
    assert 'asyncio_default_fixture_loop_scope = "session"' in config
    assert 'asyncio_default_test_loop_scope = "session"' in config
    assert (
        'pytest_plugins = ["persistence.testing.pytest_plugin", "persistence.testing.unit_of_work_fixtures"]'
        in files["conftest.py"]
    )


def test_a_fresh_project_from_the_page_alone_runs_green(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    for name, body in documented_files().items():
        (project / name).write_text(body, encoding="utf-8")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTEST_", "MONGODB_URI", "PYTHONPATH"))
    }
    env["PYTHONPATH"] = str(REPO)
    if os.environ.get("MONGODB_URI"):
        env["MONGODB_URI"] = os.environ["MONGODB_URI"]
    report = tmp_path / "report.xml"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--junitxml={report}"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=HANG_S,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None, output
    counts = {key: int(suite.get(key, "0")) for key in ("tests", "failures", "errors", "skipped")}
    assert counts == {"tests": 4, "failures": 0, "errors": 0, "skipped": 0}, output
    assert f"rootdir: {project}" in output  # the project's own configuration, not ours
    assert "warnings summary" not in output  # no warning reaches a user's test run
