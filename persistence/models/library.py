"""The library collections.  References are ``ReferenceField``s stored as ObjectIds;
their delete rules come from :data:`domain.relations.RELATIONS`, registered once below."""

from __future__ import annotations

import mongoengine
from mongoengine import (
    BooleanField,
    Document,
    EmbeddedDocument,
    EmbeddedDocumentField,
    IntField,
    ListField,
    ObjectIdField,
    ReferenceField,
    StringField,
)

from domain.relations import RELATIONS, Rule

__all__ = [
    "LIBRARY_DOCUMENTS",
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
    version = IntField(default=0, min_value=0)

    meta = {"collection": "authors"}


class AttachmentDocument(EmbeddedDocument):
    """A file a book owns (the file itself lives in GridFS)."""

    file_id = ObjectIdField(required=True)
    filename = StringField(required=True)
    content_type = StringField()
    length = IntField(default=0)


class BookDocument(Document):
    """A book, referring to its author and (optionally) its editor."""

    title = StringField(required=True, max_length=100)
    author_id = ReferenceField(AuthorDocument, required=True)
    editor_id = ReferenceField(AuthorDocument)
    attachments = ListField(EmbeddedDocumentField(AttachmentDocument))
    version = IntField(default=0, min_value=0)

    meta = {"collection": "books", "indexes": ["author_id", "editor_id"]}


class ReviewDocument(Document):
    """A review of a book, possibly a reply to another review."""

    book_id = ReferenceField(BookDocument, required=True)
    text = StringField(required=True)
    parent_id = ReferenceField("ReviewDocument")

    meta = {"collection": "reviews", "indexes": ["book_id", "parent_id"]}


class ShelfDocument(Document):
    """A reading list of books."""

    name = StringField(required=True, max_length=100)
    book_ids = ListField(ReferenceField(BookDocument))

    meta = {"collection": "shelves", "indexes": ["book_ids"]}


class ContractDocument(Document):
    """A publishing contract with an author."""

    author_id = ReferenceField(AuthorDocument, required=True)
    title = StringField(required=True, max_length=100)

    meta = {"collection": "contracts", "indexes": ["author_id"]}


class PostDocument(Document):
    """A blog post by an author."""

    author_id = ReferenceField(AuthorDocument, required=True)
    title = StringField(required=True, max_length=100)
    body = StringField(default="")
    published = BooleanField(default=False)
    version = IntField(default=0, min_value=0)

    meta = {"collection": "posts", "indexes": ["author_id"]}


class CommentDocument(Document):
    """A comment on a post."""

    post_id = ReferenceField(PostDocument, required=True)
    by = StringField(required=True, max_length=100)
    text = StringField(required=True)

    meta = {"collection": "comments", "indexes": ["post_id"]}


LIBRARY_DOCUMENTS: dict[str, type[Document]] = {
    "authors": AuthorDocument,
    "books": BookDocument,
    "reviews": ReviewDocument,
    "shelves": ShelfDocument,
    "contracts": ContractDocument,
    "posts": PostDocument,
    "comments": CommentDocument,
}

_RULES = {
    Rule.DO_NOTHING: mongoengine.DO_NOTHING,
    Rule.NULLIFY: mongoengine.NULLIFY,
    Rule.CASCADE: mongoengine.CASCADE,
    Rule.DENY: mongoengine.DENY,
    Rule.PULL: mongoengine.PULL,
}

for _relation in RELATIONS:
    LIBRARY_DOCUMENTS[_relation.target].register_delete_rule(
        LIBRARY_DOCUMENTS[_relation.source], _relation.field, _RULES[_relation.rule]
    )
