"""The library collections of the reference application.  References are
``ReferenceField``s stored as ObjectIds, with their delete rules declared on them
(``reverse_delete_rule``): books and posts go with their author, reviews with their book
(and replies with their review), comments with their post; a removed editor is cleared
from their books, a removed book pulled from shelves, and an author with a contract
cannot be removed."""

from __future__ import annotations

from mongoengine import (
    CASCADE,
    DENY,
    NULLIFY,
    PULL,
    BooleanField,
    Document,
    EmbeddedDocument,
    EmbeddedDocumentField,
    IntField,
    ListField,
    ReferenceField,
    StringField,
)

from persistence.fields import FileIdField, VersionField

__all__ = [
    "AttachmentDocument",
    "AuthorDocument",
    "BookDocument",
    "CommentDocument",
    "ContractDocument",
    "PostDocument",
    "ReviewDocument",
    "ShelfDocument",
]


class AuthorDocument(Document):
    """An author."""

    name = StringField(required=True, max_length=100)
    version = VersionField()

    meta = {"collection": "authors"}


class AttachmentDocument(EmbeddedDocument):
    """A file a book owns (the file itself lives in GridFS)."""

    file_id = FileIdField(required=True)
    filename = StringField(required=True)
    content_type = StringField()
    length = IntField(default=0)


class BookDocument(Document):
    """A book, referring to its author and (optionally) its editor."""

    title = StringField(required=True, max_length=100)
    author_id = ReferenceField(AuthorDocument, required=True, reverse_delete_rule=CASCADE)
    editor_id = ReferenceField(AuthorDocument, reverse_delete_rule=NULLIFY)
    attachments = ListField(EmbeddedDocumentField(AttachmentDocument))
    version = VersionField()

    meta = {"collection": "books", "indexes": ["author_id", "editor_id"]}


class ReviewDocument(Document):
    """A review of a book, possibly a reply to another review."""

    book_id = ReferenceField(BookDocument, required=True, reverse_delete_rule=CASCADE)
    text = StringField(required=True)
    parent_id = ReferenceField("self", reverse_delete_rule=CASCADE)

    meta = {"collection": "reviews", "indexes": ["book_id", "parent_id"]}


class ShelfDocument(Document):
    """A reading list of books."""

    name = StringField(required=True, max_length=100)
    book_ids = ListField(ReferenceField(BookDocument, reverse_delete_rule=PULL))

    meta = {"collection": "shelves", "indexes": ["book_ids"]}


class ContractDocument(Document):
    """A publishing contract with an author."""

    author_id = ReferenceField(AuthorDocument, required=True, reverse_delete_rule=DENY)
    title = StringField(required=True, max_length=100)

    meta = {"collection": "contracts", "indexes": ["author_id"]}


class PostDocument(Document):
    """A blog post by an author."""

    author_id = ReferenceField(AuthorDocument, required=True, reverse_delete_rule=CASCADE)
    title = StringField(required=True, max_length=100)
    body = StringField(default="")
    published = BooleanField(default=False)
    version = VersionField()

    meta = {"collection": "posts", "indexes": ["author_id"]}


class CommentDocument(Document):
    """A comment on a post."""

    post_id = ReferenceField(PostDocument, required=True, reverse_delete_rule=CASCADE)
    by = StringField(required=True, max_length=100)
    text = StringField(required=True)

    meta = {"collection": "comments", "indexes": ["post_id"]}
