"""The library aggregates: authors, their books, reviews, shelves and contracts.

They refer to each other by id only (fields named ``*_id`` or ``*_ids``); how a removal
spreads along those references is declared once, in :mod:`persistence.relations`.
"""

from __future__ import annotations

from typing import Any

import attrs

from domain.entities import _name, _valid_id
from persistence.ids import is_valid_id, new_id

__all__ = ["Attachment", "Author", "Book", "Comment", "Contract", "Post", "Review", "Shelf"]


def _optional_id(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not is_valid_id(value):
        raise ValueError(f"{attribute.name} must be an id or None, got {value!r}")


def _ids(value: Any) -> list[str]:
    if not isinstance(value, (list, tuple)) or not all(is_valid_id(v) for v in value):
        raise ValueError(f"expected a list of ids, got {value!r}")
    return list(value)


def _attachments(value: Any) -> list[Attachment]:
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"attachments must be a list, got {value!r}")
    return [Attachment(**v) if isinstance(v, dict) else v for v in value]


@attrs.define(kw_only=True)
class Author:
    """Someone who writes books."""

    id: str = attrs.field(factory=new_id, validator=_valid_id)
    name: str = attrs.field(validator=_name)
    version: int = attrs.field(default=0, validator=attrs.validators.instance_of(int))


@attrs.frozen(kw_only=True)
class Attachment:
    """A value object: a file (in the file store) that an aggregate owns."""

    file_id: str = attrs.field(validator=_valid_id)
    filename: str = attrs.field(validator=_name)
    content_type: str | None = None
    length: int = attrs.field(default=0, validator=attrs.validators.instance_of(int))


@attrs.define(kw_only=True)
class Book:
    """A book: written by an author (CASCADE), optionally edited by one (NULLIFY)."""

    id: str = attrs.field(factory=new_id, validator=_valid_id)
    title: str = attrs.field(validator=_name)
    author_id: str = attrs.field(validator=_valid_id)
    editor_id: str | None = attrs.field(default=None, validator=_optional_id)
    attachments: list[Attachment] = attrs.field(factory=list, converter=_attachments)
    version: int = attrs.field(default=0, validator=attrs.validators.instance_of(int))


@attrs.define(kw_only=True)
class Review:
    """A review of a book (CASCADE), possibly replying to another review (CASCADE)."""

    id: str = attrs.field(factory=new_id, validator=_valid_id)
    book_id: str = attrs.field(validator=_valid_id)
    text: str = attrs.field(validator=attrs.validators.instance_of(str))
    parent_id: str | None = attrs.field(default=None, validator=_optional_id)


@attrs.define(kw_only=True)
class Shelf:
    """A reading list; a removed book is pulled from it (PULL)."""

    id: str = attrs.field(factory=new_id, validator=_valid_id)
    name: str = attrs.field(validator=_name)
    book_ids: list[str] = attrs.field(factory=list, converter=_ids)


@attrs.define(kw_only=True)
class Contract:
    """A publishing contract: its author cannot be removed while it exists (DENY)."""

    id: str = attrs.field(factory=new_id, validator=_valid_id)
    author_id: str = attrs.field(validator=_valid_id)
    title: str = attrs.field(validator=_name)


@attrs.define(kw_only=True)
class Post:
    """A blog post by an author (CASCADE); a draft until published."""

    id: str = attrs.field(factory=new_id, validator=_valid_id)
    author_id: str = attrs.field(validator=_valid_id)
    title: str = attrs.field(validator=_name)
    body: str = attrs.field(default="", validator=attrs.validators.instance_of(str))
    published: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))
    version: int = attrs.field(default=0, validator=attrs.validators.instance_of(int))


@attrs.define(kw_only=True)
class Comment:
    """A reader's comment on a post (CASCADE with the post)."""

    id: str = attrs.field(factory=new_id, validator=_valid_id)
    post_id: str = attrs.field(validator=_valid_id)
    by: str = attrs.field(validator=_name)
    text: str = attrs.field(validator=attrs.validators.instance_of(str))
