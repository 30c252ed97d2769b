"""A team adopts the layer from a wheel: the distribution installs one import root,
``persistence``, and a service of its own (with its own ``domain``, ``adapters`` and
``services`` packages, and a ``domain/errors.py``) built from the docs alone runs green.

The wheel is built from a copy of the repository, installed with its ``testing`` extra
into a fresh virtualenv (no editable install, the repository nowhere on ``sys.path``),
and the service is written to an empty directory from the ``File `<path>`:`` blocks of
``docs/architecture.md`` and ``docs/testing.md``: its unit tests run on the memory unit
of work, its integration tests on the embedded server (or ``MONGODB_URI``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import venv
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

from eventually import HANG_S

REPO = Path(__file__).resolve().parents[2]
PAGES = [REPO / "docs" / "architecture.md", REPO / "docs" / "testing.md"]
FILE = re.compile(r"^File `([^`]+)`[^\n]*:\n\n```\w*\n(.*?)^```", re.M | re.S)
NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "site", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis"
)


def documented_files() -> dict[str, str]:
    files: dict[str, str] = {}
    for page in PAGES:
        for name, body in FILE.findall(page.read_text(encoding="utf-8")):
            assert name not in files, f"{name} is documented twice"
            files[name] = body
    return files


def test_the_pages_document_a_whole_service() -> None:
    files = documented_files()
    packages = {name.split("/")[0] for name in files if "/" in name}
    assert {"domain", "adapters", "services", "tests"} <= packages
    assert "domain/errors.py" in files  # the clash a second top-level `domain` would cause
    assert "pytest_plugins" not in files["conftest.py"]  # the plugin comes with the install
    config = files["pyproject.toml"]
    for setting in ('asyncio_mode = "auto"', 'asyncio_default_test_loop_scope = "session"'):
        assert setting in config


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("source") / "repo"
    shutil.copytree(REPO, source, ignore=NOT_COPIED)
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(source)],
        check=True,
        capture_output=True,
        timeout=HANG_S,
    )
    [built] = out.glob("*.whl")
    return built


def test_the_wheel_installs_one_import_root(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert tops == {"persistence", "mongo_persistence-0.1.0.dist-info"}, tops
    assert "persistence/py.typed" in names
    assert "mongo_persistence-0.1.0.dist-info/licenses/LICENSE" in names
    entry_points = zipfile.ZipFile(wheel).read(
        "mongo_persistence-0.1.0.dist-info/entry_points.txt"
    ).decode()
    assert "[pytest11]\npersistence = persistence.testing.pytest_plugin" in entry_points


def test_a_service_of_its_own_runs_green_over_the_installed_wheel(
    wheel: Path, tmp_path: Path
) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    clean = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTEST_", "MONGODB_URI", "PYTHONPATH", "VIRTUAL_ENV"))
    }
    clean["PATH"] = f"{env_dir / 'bin'}{os.pathsep}{clean.get('PATH', '')}"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", f"{wheel}[testing]"],
        env=clean,
        capture_output=True,
        text=True,
        timeout=HANG_S,
    )
    assert install.returncode == 0, install.stdout + install.stderr

    project = tmp_path / "service"
    for name, body in documented_files().items():
        path = project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body, encoding="utf-8")

    where = subprocess.run(
        [str(python), "-c", "import persistence, sys; print(persistence.__file__, sys.path)"],
        cwd=tmp_path,
        env=clean,
        capture_output=True,
        text=True,
        timeout=HANG_S,
    )
    assert where.returncode == 0, where.stderr
    assert where.stdout.startswith(str(env_dir))  # the installed copy
    assert str(REPO) not in where.stdout  # the repository is nowhere on the path

    if os.environ.get("MONGODB_URI"):
        clean["MONGODB_URI"] = os.environ["MONGODB_URI"]
    report = tmp_path / "report.xml"
    run = subprocess.run(
        [str(python), "-m", "pytest", "-p", "no:cacheprovider", f"--junitxml={report}"],
        cwd=project,
        env=clean,
        capture_output=True,
        text=True,
        timeout=HANG_S,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None, output
    counts = {key: int(suite.get(key, "0")) for key in ("tests", "failures", "errors", "skipped")}
    assert counts == {"tests": 7, "failures": 0, "errors": 0, "skipped": 0}, output
    cases = {case.get("classname", "") for case in suite.iter("testcase")}
    assert {"tests.unit.test_planning", "tests.integration.test_planning_on_server"} <= cases
    assert f"rootdir: {project}" in output  # the service's own configuration, not ours
    assert "warnings summary" not in output  # no warning reaches a user's test run
