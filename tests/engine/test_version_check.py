"""The supported MongoEngine and PyMongo releases are checked on import, before any
module reads an internal, and a release outside the range is named with the range."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import metadata

import pytest

from persistence.engine import compat


def test_the_installed_releases_are_supported() -> None:
    compat.check_versions()  # what the import ran
    found = {name: metadata.version(name) for name in compat.SUPPORTED}
    assert found["mongoengine"] in compat.CHECKED_ON["mongoengine"]


@pytest.mark.parametrize(
    ("mongoengine", "pymongo"),
    [("0.28.2", "4.20.1"),
        ("0.29.0", "4.20.1"), ("0.30.0", "4.20.1"), ("0.29.4", "4.13.0"), ("0.29.3", "4.12.1"),
     ("0.29.3", "4.21.0"), ("0.29.3", "5.0.0")],
)  # fmt: skip
def test_a_release_outside_the_range_is_refused_naming_the_range(
    mongoengine: str, pymongo: str
) -> None:
    with pytest.raises(compat.UnsupportedVersionError) as raised:
        compat.check_versions({"mongoengine": mongoengine, "pymongo": pymongo})
    message = str(raised.value)
    assert "supports mongoengine 0.29.1 to 0.29.3 and pymongo 4.13.0 to 4.20.1" in message
    assert f"found mongoengine {mongoengine}, pymongo {pymongo}" in message


def test_pre_and_post_releases_count_by_their_numbers() -> None:
    assert compat._release("4.14.0rc1") == (4, 14, 0)
    assert compat._release("4.20.1.post1") == (4, 20, 1)
    assert compat._release("0.29.10") == (0, 29, 10)
    with pytest.raises(compat.UnsupportedVersionError):
        compat.check_versions({"mongoengine": "0.29.10rc1", "pymongo": "4.20.1"})


@pytest.mark.parametrize(
    ("mongoengine", "pymongo"),
    [("0.29.1", "4.13.0"), ("0.29.3", "4.20.1"), ("0.29.1", "4.16.0"), ("0.29.2", "4.20.1.post1")],
)
def test_a_release_inside_the_range_passes(mongoengine: str, pymongo: str) -> None:
    compat.check_versions({"mongoengine": mongoengine, "pymongo": pymongo})


def _import_with(fake_versions: dict[str, str], env: dict[str, str] | None = None) -> str:
    """Import ``persistence.engine`` in a fresh interpreter whose metadata reports
    ``fake_versions``; what it prints or raises."""
    code = (
        "import importlib.metadata as m\n"
        "real = m.version\n"
        f"fake = {fake_versions!r}\n"
        "m.version = lambda name: fake.get(name) or real(name)\n"
        "import sys\n"
        "try:\n"
        "    import persistence.engine\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n"
        "    print('internals read:', 'persistence.engine.graft' in sys.modules,"
        " 'persistence.engine.to_stored' in sys.modules)\n"
        "else:\n"
        "    print('imported')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=True,
    )
    return done.stdout


def test_importing_with_an_unsupported_release_fails_before_any_module_reads_internals() -> None:
    out = _import_with({"mongoengine": "0.30.0"})
    assert out.startswith("UnsupportedVersionError mongo-persistence supports mongoengine 0.29.1")
    assert "found mongoengine 0.30.0, pymongo" in out
    assert "internals read: False False" in out  # nothing past the check was imported


def test_the_check_can_be_skipped_on_purpose() -> None:
    out = _import_with({"mongoengine": "0.30.0"}, {"PERSISTENCE_UNSUPPORTED_VERSIONS": "1"})
    assert out.strip() == "imported"
