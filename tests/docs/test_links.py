"""No link in the README or the docs leaves the repository: every link target is a file
of the repository (or a heading of the same page), so a reader of a clone can follow it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"^```.*?^```", re.M | re.S)
LINK = re.compile(r"\]\(([^)\s]+)\)|<(\w+://[^>]+)>")
OUTSIDE = re.compile(r"`(\.\./[^`]*)`")  # a path named in code, above the repository


def _targets(page: Path) -> list[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))  # code is not a link
    return [inline or auto for inline, auto in LINK.findall(text)]


def test_pages_have_links() -> None:
    assert "docs/engine.md" in _targets(REPO / "README.md")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_link_stays_in_the_repository(page: Path) -> None:
    for target in _targets(page):
        assert "://" not in target and not target.startswith("mailto:"), (page.name, target)
        path = target.split("#", 1)[0]
        if not path:
            continue  # a heading of the same page
        resolved = (page.parent / path).resolve()
        assert resolved.is_relative_to(REPO), (page.name, target)
        assert resolved.exists(), (page.name, target)
    text = page.read_text(encoding="utf-8")
    assert not [
        p for p in OUTSIDE.findall(text) if not (page.parent / p).resolve().is_relative_to(REPO)
    ]
