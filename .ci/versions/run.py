"""The engine's tests on every supported MongoEngine release and on the lowest and highest
supported PyMongo (``persistence.engine.compat.SUPPORTED`` / ``CHECKED_ON``).

One extra virtualenv holds only MongoEngine and PyMongo; everything else (pytest, the
server, the project itself) comes from the virtualenv running this script, added behind
the extra one's own packages, so a run swaps two packages with pip and nothing more.
Each run installs its pair with ``pip install --no-deps``, checks that the interpreter
imports exactly that pair, and runs the engine's tests (``tests/engine``: the
compatibility inventory test, the version check, the spec examples and every engine
test) against its own server.

The pairs: each MongoEngine release once, PyMongo alternating between the lowest and
the highest supported release, so that every MongoEngine release and both PyMongo ends
run; the pair the main CI run installs (the newest of both) is left to it.  ``--all``
runs every combination; ``--pair ME PM`` one pair.  The wheels are kept in
``~/.cache/mongo-persistence/ci-wheels`` (``PERSISTENCE_CI_WHEELS``): once fetched, the
runs need no network.

Exit status 0 when every run passed; the last line names each pair with its result and
time.  Nothing it starts outlives it (each run is bound to this process, this process
to its parent: :mod:`persistence.testing.bound_processes`).
"""

from __future__ import annotations

import argparse
import itertools
import os
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parents[2]
TESTS = ("tests/engine",)
NAMES = ("mongoengine", "pymongo")


def _supported() -> tuple[tuple[str, ...], tuple[str, ...]]:
    from persistence.engine import compat

    return compat.CHECKED_ON["mongoengine"], compat.CHECKED_ON["pymongo"]


def pairs(run_all: bool) -> list[tuple[str, str]]:
    """The (mongoengine, pymongo) pairs to run."""
    engines, drivers = _supported()
    if run_all:
        return list(itertools.product(engines, drivers))
    low, high = drivers[0], drivers[-1]
    chosen = [(me, low if i % 2 == 0 else high) for i, me in enumerate(engines)]
    if chosen[-1] == (engines[-1], high):  # the main run's pair: test the other end
        chosen[-1] = (engines[-1], low)
    return chosen


def make_venv(where: Path) -> Path:
    """A virtualenv at ``where`` that sees this one's packages behind its own."""
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
    python = where / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    ours = sysconfig.get_paths()["purelib"]
    # ``site.addsitedir`` also runs the .pth files there (the project's editable install)
    (Path(purelib) / "zz_ci_base.pth").write_text(
        f"import site; site.addsitedir({ours!r})\n", encoding="utf-8"
    )
    return python


def _quiet(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        sys.stdout.write(done.stdout + done.stderr)
        raise SystemExit(f"failed: {' '.join(command)}")


WHEELS = Path(
    os.environ.get("PERSISTENCE_CI_WHEELS")
    or Path.home() / ".cache" / "mongo-persistence" / "ci-wheels"
)


def fetch_wheels(python: Path, requirements: list[str]) -> None:
    """Keep the wheels of ``requirements`` in :data:`WHEELS` (``PERSISTENCE_CI_WHEELS``),
    so that the runs also work offline once they have run online."""
    WHEELS.mkdir(parents=True, exist_ok=True)
    pip = [str(python), "-m", "pip", "--disable-pip-version-check", "-q"]
    for requirement in requirements:  # one at a time: they are alternatives
        name, version = requirement.split("==")
        if any(WHEELS.glob(f"{name}-{version}-*.whl")):
            continue  # kept from an earlier run
        done = subprocess.run(
            [*pip, "download", "--no-deps", "-d", str(WHEELS), requirement],
            capture_output=True,
            text=True,
        )
        if done.returncode:
            print(f"(pip download {requirement} failed: using {WHEELS})", flush=True)


def install(python: Path, mongoengine: str, pymongo: str) -> None:
    """Swap in the pair, and check the interpreter imports exactly it."""
    pip = [str(python), "-m", "pip", "--disable-pip-version-check", "-q"]
    pair = [f"mongoengine=={mongoengine}", f"pymongo=={pymongo}"]
    _quiet([*pip, "install", "--no-deps", "--no-index", "--find-links", str(WHEELS), *pair])
    probe = (
        "import mongoengine, pymongo, bson, gridfs, sys, os;"
        "print(mongoengine.get_version(), pymongo.version,"
        " all(m.__file__.startswith(sys.prefix) for m in (mongoengine, pymongo, bson, gridfs)))"
    )
    found = subprocess.run(
        [str(python), "-c", probe], check=True, capture_output=True, text=True
    ).stdout.split()
    if found != [mongoengine, pymongo, "True"]:
        raise SystemExit(f"asked for mongoengine {mongoengine}, pymongo {pymongo}; got {found}")


_child: subprocess.Popen[bytes] | None = None


def _stop(signum: int, _frame: FrameType | None) -> None:
    if _child is not None and _child.poll() is None:
        _child.terminate()
        _child.wait()
    raise SystemExit(128 + signum)


def run_tests(python: Path, extra: list[str]) -> int:
    global _child
    command = [str(python), "-m", "persistence.testing.run_bound"]
    command += [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", *TESTS, *extra]
    _child = subprocess.Popen(command, cwd=ROOT)
    try:
        return _child.wait()
    finally:
        _child = None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--all", action="store_true", help="every combination")
    parser.add_argument("--pair", nargs=2, metavar=("MONGOENGINE", "PYMONGO"))
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest (after --)")
    args = parser.parse_args(argv)
    from persistence.testing.bound_processes import end_with_parent

    end_with_parent(signal.SIGTERM)
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, _stop)
    chosen = [tuple(args.pair)] if args.pair else pairs(args.all)
    results = []
    with tempfile.TemporaryDirectory(prefix="persistence-versions-") as work:
        python = make_venv(Path(work) / "venv")
        wanted = {f"{name}=={v}" for pair in chosen for name, v in zip(NAMES, pair, strict=True)}
        fetch_wheels(python, sorted(wanted))
        for mongoengine, pymongo in chosen:
            started = time.monotonic()
            print(f"--- mongoengine {mongoengine}, pymongo {pymongo}", flush=True)
            install(python, mongoengine, pymongo)
            status = run_tests(python, args.pytest_args)
            took = time.monotonic() - started
            results.append(f"{mongoengine}/{pymongo} {'passed' if status == 0 else 'FAILED'} "
                           f"({took:.0f} s)")  # fmt: skip
    print("version runs (mongoengine/pymongo):", "; ".join(results), flush=True)
    return 0 if all("passed" in r for r in results) else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    sys.exit(main())
