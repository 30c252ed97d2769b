"""The blog's HTTP API.  Each request runs application services on a fresh unit of work;
the MongoDB connection is opened with ``connect_async`` in the app's lifespan.

``create_app(uow_factory=...)`` swaps the unit of work (the memory adapters in unit
tests); without one the app uses :class:`~adapters.mongo.MongoUnitOfWork` on the
database ``db`` of ``uri`` (default: ``MONGODB_URI``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

import persistence  # noqa: F401  (activates the async API)
from adapters.mongo import MongoUnitOfWork
from domain.codec import to_dict
from domain.entities import Account
from domain.errors import Conflict, DeleteDenied, DomainError, InsufficientFunds, NotFound
from domain.ids import is_valid_id
from domain.ports import UnitOfWork
from domain.services import (
    add_comment,
    attach_file,
    create_author,
    create_book,
    delete_author,
    publish_post,
    register_user,
    transfer_funds,
    write_post,
)
from domain.specs import F, Order
from persistence.engine import connect_async, disconnect_async
from persistence.models import registry

__all__ = ["create_app"]


class NewUser(BaseModel):
    name: str
    email: str


class NewAuthor(BaseModel):
    name: str


class NewPost(BaseModel):
    author_id: str
    title: str
    body: str = ""


class NewComment(BaseModel):
    by: str
    text: str


class NewBook(BaseModel):
    author_id: str
    title: str


class NewAccount(BaseModel):
    owner: str
    balance: int = Field(ge=0)


class Transfer(BaseModel):
    source: str
    target: str
    amount: int = Field(gt=0)


_STATUS: list[tuple[type[Exception], int]] = [
    (NotFound, 404),
    (InsufficientFunds, 409),
    (DeleteDenied, 409),
    (Conflict, 409),
    (DomainError, 400),
    (ValueError, 422),
]


def create_app(
    uow_factory: Callable[[], UnitOfWork] | None = None,
    *,
    uri: str | None = None,
    db: str = "blog",
) -> FastAPI:
    """The blog app; see the module docstring."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if uow_factory is not None:
            yield
            return
        await connect_async(db, host=uri or os.environ.get("MONGODB_URI", "localhost"))
        try:
            yield
        finally:
            await disconnect_async()

    app = FastAPI(title="Blog", lifespan=lifespan)
    new_uow: Callable[[], Any] = uow_factory or (lambda: MongoUnitOfWork(registry))

    for error, status in _STATUS:

        def handler(request: Request, exc: Exception, status: int = status) -> JSONResponse:
            return JSONResponse({"error": type(exc).__name__, "detail": str(exc)}, status)

        app.add_exception_handler(error, handler)

    @app.post("/users", status_code=201)
    async def new_user(body: NewUser) -> dict[str, Any]:
        return to_dict(await register_user(new_uow(), name=body.name, email=body.email))

    @app.post("/authors", status_code=201)
    async def new_author(body: NewAuthor) -> dict[str, Any]:
        return to_dict(await create_author(new_uow(), body.name))

    @app.delete("/authors/{author_id}")
    async def remove_author(author_id: str) -> dict[str, Any]:
        return {"books_removed": await delete_author(new_uow(), author_id)}

    @app.post("/posts", status_code=201)
    async def new_post(body: NewPost) -> dict[str, Any]:
        return to_dict(await write_post(new_uow(), body.author_id, body.title, body.body))

    @app.post("/posts/{post_id}/publish")
    async def publish(post_id: str) -> dict[str, Any]:
        return to_dict(await publish_post(new_uow(), post_id))

    @app.get("/posts/{post_id}")
    async def read_post(post_id: str) -> dict[str, Any]:
        if not is_valid_id(post_id):
            raise NotFound("Post", post_id)
        async with new_uow() as uow:
            found = await uow.posts.find_related(F("id") == post_id, with_related=("author",))
            comments = await uow.comments.find(F("post_id") == post_id, order=Order.by("id"))
        if not found:
            raise NotFound("Post", post_id)
        loaded = found[0]
        author = loaded.related["author"]
        return {
            **to_dict(loaded.entity),
            "author": None if author is None else to_dict(author),
            "comments": [to_dict(c) for c in comments],
        }

    @app.post("/posts/{post_id}/comments", status_code=201)
    async def comment(post_id: str, body: NewComment) -> dict[str, Any]:
        return to_dict(await add_comment(new_uow(), post_id, body.by, body.text))

    @app.post("/books", status_code=201)
    async def new_book(body: NewBook) -> dict[str, Any]:
        return to_dict(await create_book(new_uow(), body.author_id, body.title))

    @app.put("/books/{book_id}/attachments/{filename}", status_code=201)
    async def upload(book_id: str, filename: str, request: Request) -> dict[str, Any]:
        data = await request.body()
        content_type = request.headers.get("content-type")
        return to_dict(await attach_file(new_uow(), book_id, data, filename, content_type))

    @app.get("/files/{file_id}")
    async def download(file_id: str) -> StreamingResponse:
        async with new_uow() as uow:
            info = await uow.files.info(file_id)

        async def chunks() -> AsyncIterator[bytes]:
            async with new_uow() as uow:
                async for chunk in uow.files.stream(file_id):
                    yield chunk

        headers = {"content-length": str(info.length)}
        return StreamingResponse(chunks(), media_type=info.content_type, headers=headers)

    @app.post("/accounts", status_code=201)
    async def new_account(body: NewAccount) -> dict[str, Any]:
        account = Account(owner=body.owner, balance=body.balance)
        async with new_uow() as uow:
            await uow.accounts.add(account)
            await uow.commit()
        return to_dict(account)

    @app.get("/accounts/{account_id}")
    async def read_account(account_id: str) -> dict[str, Any]:
        async with new_uow() as uow:
            return to_dict(await uow.accounts.get(account_id))

    @app.post("/transfers")
    async def transfer(body: Transfer) -> dict[str, Any]:
        await transfer_funds(new_uow(), body.source, body.target, body.amount)
        return {"ok": True}

    return app


app = create_app()
