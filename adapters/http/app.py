"""The blog's HTTP API.  Each request runs application services on a fresh unit of work
(a read-only one, ``uow.reading()``, for the GETs: no transaction);
the MongoDB connection is opened with ``connect_async`` in the app's lifespan.

``create_app(uow_factory=...)`` swaps the unit of work (the memory adapters in unit
tests); without one the app uses :class:`~persistence.mongo.MongoUnitOfWork` on the
database ``db`` of ``uri`` (default: ``MONGODB_URI``), whose units wait for an
unreachable database at most ``outage_budget`` seconds (default :data:`OUTAGE_BUDGET`,
half the app's :data:`REQUEST_DEADLINE`), so an outage is a 503 within the deadline.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import FastAPI, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

import persistence.engine  # noqa: F401  (activates the async API)
from adapters.registry import registry
from domain.entities import Account
from domain.errors import InsufficientFunds
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
from persistence.codec import to_dict
from persistence.engine import connect_async, disconnect_async
from persistence.errors import (
    Conflict,
    DeleteDenied,
    DomainError,
    EntityTooLarge,
    FileStoreError,
    InvalidEntity,
    NotFound,
    StoreUnavailable,
    TransactionsUnsupported,
)
from persistence.ids import is_valid_id
from persistence.mongo import MongoUnitOfWork
from persistence.outbox import Outbox
from persistence.outbox.mongo import MongoOutbox
from persistence.ports import UnitOfWork
from persistence.retry_policy import RetryPolicy
from persistence.specs import F, Order

from .worker import TransferNotices, start_worker

__all__ = ["OUTAGE_BUDGET", "REQUEST_DEADLINE", "create_app"]

REQUEST_DEADLINE = 10.0
"""Seconds within which every request is answered, a 503 included."""
OUTAGE_BUDGET = REQUEST_DEADLINE / 2
"""Seconds a request's unit of work waits for an unreachable database."""


_ID = "24 lowercase hex characters; any other id is not found (404)"
_BLANK = "".join(ch for ch in map(chr, range(0x3001)) if ch.isspace())
VISIBLE = "[^" + "".join(f"\\u{ord(ch):04x}" for ch in _BLANK) + "]"
"""The domain's rule for names (``str.strip()`` leaves something) as a schema pattern:
one character that is not whitespace, spelled with ``\\uXXXX`` escapes so that JSON
Schema, pydantic's regex engine and Python's ``re`` read it alike."""
Name = Annotated[str, Field(min_length=1, max_length=100, pattern=VISIBLE)]
FileName = Annotated[str, PathParam(min_length=1, max_length=100, pattern=VISIBLE)]
_TEXT_MAX = 10_000
_INT64_MAX = 2**63 - 1
_DETAIL_CHARS = 200


_STRICT = ConfigDict(extra="forbid")  # an unknown field is refused (422), as declared


def _json_integer(value: Any) -> Any:
    """An integer is a JSON number without a fraction (``2`` or ``2.0``, as JSON Schema
    counts them), never ``true`` or the text ``"1"``, which pydantic would coerce."""
    if isinstance(value, (bool, str, bytes)):
        raise ValueError("expected an integer (a JSON number)")
    return value


_JSON_INTEGER = BeforeValidator(_json_integer)  # after the bounds, so they stay in the schema
Balance = Annotated[int, Field(ge=0, le=_INT64_MAX), _JSON_INTEGER]
Amount = Annotated[int, Field(gt=0, le=_INT64_MAX), _JSON_INTEGER]


class NewUser(BaseModel):
    model_config = _STRICT

    name: Name
    email: str = Field(
        max_length=254,
        pattern=r"^[A-Za-z0-9]{1,20}([._+-][A-Za-z0-9]{1,20}){0,2}"
        r"@[A-Za-z0-9]{1,20}(-[A-Za-z0-9]{1,20})?(\.[A-Za-z0-9]{1,20}){0,2}\.[A-Za-z]{2,24}$",
    )


class NewAuthor(BaseModel):
    model_config = _STRICT

    name: Name


class NewPost(BaseModel):
    model_config = _STRICT

    author_id: str = Field(description=_ID)
    title: Name
    body: str = Field(default="", max_length=_TEXT_MAX)


class NewComment(BaseModel):
    model_config = _STRICT

    by: Name
    text: str = Field(max_length=_TEXT_MAX)


class NewBook(BaseModel):
    model_config = _STRICT

    author_id: str = Field(description=_ID)
    title: Name


class NewAccount(BaseModel):
    model_config = _STRICT

    owner: Name
    balance: Balance


class Transfer(BaseModel):
    model_config = _STRICT

    source: str = Field(description=_ID)
    target: str = Field(description=_ID)
    amount: Amount


class ErrorBody(BaseModel):
    """Every error response: the error's kind and a short message (never the input)."""

    error: str
    detail: str


_STATUS: list[tuple[type[Exception], int, str, str]] = [
    (NotFound, 404, "NotFound", "not found, or its id is malformed"),
    (InsufficientFunds, 409, "InsufficientFunds", "the source account cannot cover the transfer"),
    (DeleteDenied, 409, "DeleteDenied", "something still refers to the entity"),
    (Conflict, 409, "Conflict", "a unique value is taken, or a concurrent change won"),
    (EntityTooLarge, 413, "EntityTooLarge", "larger than the store keeps (16 MB)"),
    (InvalidEntity, 422, "InvalidEntity", "the store refuses a value"),
    (StoreUnavailable, 503, "StoreUnavailable", "the database is unreachable; retry later"),
    (TransactionsUnsupported, 503, "TransactionsUnsupported", "no transactions on the database"),
    (FileStoreError, 503, "FileStoreError", "the file store refused, or a file is damaged"),
    (DomainError, 400, "DomainError", "the request cannot be carried out"),
    (ValueError, 422, "InvalidValue", "a value is not acceptable"),
]
"""Each error kind: its status, the name the body gives it and the body's text.  A body
names the kind and, where the error says so, the entity and its fields: never the
input, an id or an internal (driver or exception class) name."""
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "the request cannot be carried out"},
    404: {"model": ErrorBody, "description": "not found, or a malformed id"},
    409: {"model": ErrorBody, "description": "a conflict: taken, concurrent, refused"},
    413: {"model": ErrorBody, "description": "the entity is too large to store"},
    422: {"model": ErrorBody, "description": "the request or a value is invalid"},
    503: {"model": ErrorBody, "description": "the database is unavailable"},
}
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$")


def _short(text: str) -> str:
    """``text`` cut to a few hundred characters and encodable (no lone surrogates)."""
    if len(text) > _DETAIL_CHARS:
        text = text[: _DETAIL_CHARS - 3] + "..."
    return text.encode("utf-8", "replace").decode("utf-8")


def _detail(exc: Exception, text: str) -> str:
    """``text``, prefixed with the entity (and fields) a domain error names."""
    entity = getattr(exc, "entity", None)
    if not isinstance(entity, str) or not _FIELD.match(entity):
        return text
    fields = [getattr(exc, "field", None)] if isinstance(exc, Conflict) else []
    if isinstance(exc, InvalidEntity):
        fields = list(exc.problems)
    named = [f for f in fields if isinstance(f, str) and _FIELD.match(f)]
    return f"{entity}{' ' + ', '.join(named) if named else ''}: {text}"


def _error(exc: Exception, status: int, kind: str, text: str) -> JSONResponse:
    return JSONResponse({"error": kind, "detail": _short(_detail(exc, text))}, status)


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own errors (a body that does not parse, a method not allowed) in the
    same body as the others."""
    status = getattr(exc, "status_code", 400)
    body = {"error": "HTTPException", "detail": _short(str(getattr(exc, "detail", "")))}
    return JSONResponse(body, status, headers=getattr(exc, "headers", None))


def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's request validation, without echoing the input back (an unknown field
    is not named)."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    parts = []
    for e in errors[:5]:
        loc = [str(part) for part in e.get("loc", ())]
        if e.get("type") == "extra_forbidden":
            loc, message = loc[:-1], "unknown field"
        else:
            message = e.get("msg", "invalid")
        parts.append(f"{'.'.join(loc)}: {message}")
    body = {"error": "RequestValidationError", "detail": _short("; ".join(parts) or "invalid")}
    return JSONResponse(body, 422)


_REQUEST_MODELS = (NewUser, NewAuthor, NewPost, NewComment, NewBook, NewAccount, Transfer)
_BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")


def _exact_bounds(app: FastAPI) -> None:
    """Publish the request models' numeric bounds as pydantic states them: FastAPI's
    OpenAPI model holds bounds as floats, which would print int64's largest value as
    ``9.223372036854776e+18`` (2**63, a value the model refuses)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schemas = generate().get("components", {}).get("schemas", {})
            for model in _REQUEST_MODELS:
                published = schemas.get(model.__name__, {}).get("properties", {})
                for name, exact in model.model_json_schema()["properties"].items():
                    for key in _BOUNDS:
                        if key in exact and name in published:
                            published[name][key] = exact[key]
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


def _known_shape(entity: str, entity_id: str) -> None:
    """A malformed id is a missing entity: 404 on every endpoint alike."""
    if not is_valid_id(entity_id):
        raise NotFound(entity, entity_id)


@asynccontextmanager
async def _worker(outbox: Outbox | None, notices: TransferNotices) -> AsyncIterator[None]:
    """The transfer-notices worker running while the app serves (if there is an outbox)."""
    task = start_worker(outbox, notices) if outbox is not None else None
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def create_app(
    uow_factory: Callable[[], UnitOfWork] | None = None,
    *,
    uri: str | None = None,
    db: str = "blog",
    outage_budget: float = OUTAGE_BUDGET,
    outbox: Outbox | None = None,
) -> FastAPI:
    """The blog app; see the module docstring.  ``outbox``: where the transfer-notices
    worker (:mod:`.worker`, started in the lifespan) consumes (default: the MongoDB
    outbox of the app's database; none with a ``uow_factory`` and no ``outbox``)."""
    notices = TransferNotices()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.transfer_notices = notices
        if uow_factory is not None:
            async with _worker(outbox, notices):
                yield
            return
        await connect_async(db, host=uri or os.environ.get("MONGODB_URI", "localhost"))
        try:
            async with _worker(outbox or MongoOutbox(), notices):
                yield
        finally:
            await disconnect_async()

    app = FastAPI(title="Blog", lifespan=lifespan, responses=ERROR_RESPONSES)
    policy = RetryPolicy(outage_budget=outage_budget)
    new_uow: Callable[[], Any] = uow_factory or (
        lambda: MongoUnitOfWork(registry, retry_policy=policy)
    )

    for error, status, kind, text in _STATUS:

        def handler(
            request: Request, exc: Exception, answer: tuple[int, str, str] = (status, kind, text)
        ) -> JSONResponse:
            return _error(exc, *answer)

        app.add_exception_handler(error, handler)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    _exact_bounds(app)

    @app.post("/users", status_code=201)
    async def new_user(body: NewUser) -> dict[str, Any]:
        return to_dict(await register_user(new_uow(), name=body.name, email=body.email))

    @app.post("/authors", status_code=201)
    async def new_author(body: NewAuthor) -> dict[str, Any]:
        return to_dict(await create_author(new_uow(), body.name))

    @app.delete("/authors/{author_id}")
    async def remove_author(author_id: str) -> dict[str, Any]:
        _known_shape("Author", author_id)
        return {"books_removed": await delete_author(new_uow(), author_id)}

    @app.post("/posts", status_code=201)
    async def new_post(body: NewPost) -> dict[str, Any]:
        return to_dict(await write_post(new_uow(), body.author_id, body.title, body.body))

    @app.post("/posts/{post_id}/publish")
    async def publish(post_id: str) -> dict[str, Any]:
        _known_shape("Post", post_id)
        return to_dict(await publish_post(new_uow(), post_id))

    @app.get("/posts/{post_id}")
    async def read_post(post_id: str) -> dict[str, Any]:
        _known_shape("Post", post_id)
        async with new_uow().reading() as uow:
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
        _known_shape("Post", post_id)
        return to_dict(await add_comment(new_uow(), post_id, body.by, body.text))

    @app.post("/books", status_code=201)
    async def new_book(body: NewBook) -> dict[str, Any]:
        return to_dict(await create_book(new_uow(), body.author_id, body.title))

    @app.put(
        "/books/{book_id}/attachments/{filename}",
        status_code=201,
        openapi_extra={
            "requestBody": {
                "content": {"application/octet-stream": {"schema": {"type": "string"}}}
            }
        },
    )
    async def upload(
        book_id: str, request: Request, filename: FileName
    ) -> dict[str, Any]:
        _known_shape("Book", book_id)
        data = await request.body()
        content_type = request.headers.get("content-type")
        return to_dict(await attach_file(new_uow(), book_id, data, filename, content_type))

    @app.get(
        "/files/{file_id}",
        response_class=StreamingResponse,
        responses={200: {"description": "the file's content", "content": {"*/*": {}}}},
    )
    async def download(file_id: str) -> StreamingResponse:
        _known_shape("File", file_id)
        async with new_uow().reading() as uow:
            info = await uow.files.info(file_id)

        async def chunks() -> AsyncIterator[bytes]:
            async with new_uow().reading() as uow:
                async for chunk in uow.files.stream(file_id):
                    yield chunk

        headers = {"content-length": str(info.length)}
        return StreamingResponse(chunks(), media_type=info.content_type, headers=headers)

    @app.post("/accounts", status_code=201)
    async def new_account(body: NewAccount) -> dict[str, Any]:
        account = Account(owner=body.owner, balance=body.balance)

        async def add(uow: Any) -> None:
            await uow.accounts.add(account)

        await new_uow().run(add)
        return to_dict(account)

    @app.get("/accounts/{account_id}")
    async def read_account(account_id: str) -> dict[str, Any]:
        _known_shape("Account", account_id)
        async with new_uow().reading() as uow:
            return to_dict(await uow.accounts.get(account_id))

    @app.post("/transfers")
    async def transfer(body: Transfer) -> dict[str, Any]:
        _known_shape("Account", body.source)
        _known_shape("Account", body.target)
        await transfer_funds(new_uow(), body.source, body.target, body.amount)
        return {"ok": True}

    return app


app = create_app()
