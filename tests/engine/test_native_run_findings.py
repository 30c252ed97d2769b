"""Differences from MongoEngine that its own suite found when run through the native
``async_`` paths (``.ci/mongoengine_suite/run.py --mode native``), each shaped like the
MongoEngine test that found it and run with the public async API alone, on the server and
on mongomock."""

from __future__ import annotations

from typing import Any

import pytest
from mongoengine import (
    BooleanField,
    Document,
    DynamicField,
    EmbeddedDocument,
    EmbeddedDocumentField,
    InvalidDocumentError,
    ListField,
    OperationError,
    ReferenceField,
    StringField,
)


async def test_a_document_held_by_a_dynamic_field_loads_as_in_sync(any_async_db: Any) -> None:
    """test_dynamic_fields_class: MongoEngine stores a Document put in a DynamicField as a
    reference and loads it back while the holder is built; every async read does too."""

    class Attachment(Document):
        title = StringField(db_field="t")

    class Note(EmbeddedDocument):
        extra = DynamicField()

    class Post(Document):
        attachment = DynamicField(db_field="a")
        note = EmbeddedDocumentField(Note)
        extras = ListField(DynamicField())

    class Shelf(Document):
        post = ReferenceField(Post)

    attachment = await Attachment(title="hello").async_save()
    post = Post(attachment=attachment, note=Note(extra=attachment), extras=[attachment])
    await post.async_save()
    shelf = await Shelf(post=post).async_save()

    loaded = [
        await Post.objects.async_get(),
        await Post.objects.async_get(id=post.id),
        await Post.objects.async_first(),
        *(await Post.objects.async_to_list()),
        *[p async for p in Post.objects],
        await (await Shelf.objects.async_get(id=shelf.id)).post.async_fetch(),
    ]
    for found in loaded:
        assert isinstance(found.attachment, Attachment)
        assert found.attachment.title == "hello"
        assert found.note.extra.title == "hello"
        assert [item.title for item in found.extras] == ["hello"]


async def test_drop_collection_drops_without_building_indexes(any_async_db: Any) -> None:
    """test_2dsphere_*: sync ``drop_collection()`` never touches indexes, so rows that
    break a newly declared unique index do not stop the drop."""

    class Badge(Document):
        code = StringField()
        meta = {"collection": "badges"}

    await Badge(code="a").async_save()
    await Badge(code="a").async_save()

    class UniqueBadge(Document):
        code = StringField(unique=True)
        meta = {"collection": "badges"}

    await UniqueBadge.async_drop_collection()
    assert "badges" not in await any_async_db.list_collection_names()
    assert await Badge.objects.async_count() == 0


async def test_a_queryset_as_an_in_value(any_async_db: Any) -> None:
    """test_chaining: ``B.objects(ref__in=A.objects(...))`` compiles by running the inner
    queryset; every native read and write of such a queryset does so."""

    class Author(Document):
        name = StringField()

    class Book(Document):
        author = ReferenceField(Author)
        kept = BooleanField(default=False)

    first = await Author(name="x").async_save()
    second = await Author(name="y").async_save()
    book = await Book(author=first, kept=True).async_save()
    await Book(author=second).async_save()

    books = Book.objects(author__in=Author.objects(name="x")).filter(kept=True)
    assert await books.async_count() == 1
    assert [b.id for b in await books.async_to_list()] == [book.id]
    assert [b.id async for b in books] == [book.id]
    assert (await books.async_first()).id == book.id
    assert (await books.async_get()).id == book.id
    assert (await Book.objects.async_get(author__in=Author.objects(name="x"))).id == book.id
    rows = await (await books.async_aggregate([{"$project": {"_id": 1}}])).to_list()
    assert rows == [{"_id": book.id}]

    assert await Book.objects(author__in=Author.objects(name="x")).async_update(kept=False) == 1
    assert (await Book.objects.async_get(id=book.id)).kept is False
    assert await Book.objects(author__in=Author.objects(name="y")).async_delete() == 1
    assert [b.id for b in await Book.objects.async_to_list()] == [book.id]


async def test_abstract_documents_raise_mongoengines_errors(any_async_db: Any) -> None:
    """test_save_abstract_document, test_drop_abstract_document: an abstract Document has
    no collection; saving or dropping it raises MongoEngine's own errors."""

    class Named(Document):
        name = StringField()
        meta = {"abstract": True}

    with pytest.raises(InvalidDocumentError, match="Cannot save an abstract document"):
        await Named(name="x").async_save()
    with pytest.raises(OperationError, match="has no collection defined"):
        await Named.async_drop_collection()
    assert await Named.async_list_indexes() == []
    assert await any_async_db.list_collection_names() == []
