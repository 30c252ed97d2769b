"""The FastAPI blog driven over HTTP (``httpx.AsyncClient``) against the server, and its
services on the memory adapters (the plugin's ``memory_uow``)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from domain.errors import NotFound
from domain.services import add_comment, create_author, publish_post, transfer_funds, write_post
from examples.fastapi_blog.app import create_app
from persistence.engine import get_async_connection


@pytest.fixture
async def http(mongodb_uri: str) -> AsyncIterator[httpx.AsyncClient]:
    """The app on a fresh database, its lifespan (``connect_async``) running."""
    db = f"blog_{uuid.uuid4().hex[:10]}"
    app = create_app(uri=mongodb_uri, db=db)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://blog") as client:
            yield client
        await get_async_connection().drop_database(db)


async def _created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_users_posts_comments_and_files(http: httpx.AsyncClient) -> None:
    user = await _created(await http.post("/users", json={"name": "Ann", "email": "A@x.io"}))
    assert user["email"] == "a@x.io"
    duplicate = await http.post("/users", json={"name": "Ann", "email": "a@x.io"})
    assert duplicate.status_code == 409
    invalid = await http.post("/users", json={"name": "", "email": "a@x.io"})
    assert invalid.status_code == 422

    author = await _created(await http.post("/authors", json={"name": "Ann"}))
    post = await _created(
        await http.post("/posts", json={"author_id": author["id"], "title": "Hi", "body": "..."})
    )
    early = await http.post(f"/posts/{post['id']}/comments", json={"by": "Bob", "text": "?"})
    assert early.status_code == 404  # drafts take no comments
    published = await http.post(f"/posts/{post['id']}/publish")
    assert published.json()["published"] is True
    for text in ("first", "second"):
        await _created(
            await http.post(f"/posts/{post['id']}/comments", json={"by": "Bob", "text": text})
        )
    read = (await http.get(f"/posts/{post['id']}")).json()
    assert read["author"]["name"] == "Ann"
    assert [c["text"] for c in read["comments"]] == ["first", "second"]
    assert (await http.get(f"/posts/{'0' * 24}")).status_code == 404
    assert (await http.get("/posts/nonsense")).status_code == 404

    book = await _created(
        await http.post("/books", json={"author_id": author["id"], "title": "Manual"})
    )
    data = bytes(range(256)) * 4000  # about 1 MB: several GridFS chunks
    attachment = await _created(
        await http.put(
            f"/books/{book['id']}/attachments/manual.bin",
            content=data,
            headers={"content-type": "application/octet-stream"},
        )
    )
    download = await http.get(f"/files/{attachment['file_id']}")
    assert download.status_code == 200
    assert download.content == data
    assert download.headers["content-type"] == "application/octet-stream"

    removed = await http.delete(f"/authors/{author['id']}")
    assert removed.json() == {"books_removed": 1}
    assert (await http.get(f"/posts/{post['id']}")).status_code == 404  # cascaded
    assert (await http.get(f"/files/{attachment['file_id']}")).status_code == 404


async def test_concurrent_requests(http: httpx.AsyncClient) -> None:
    accounts = [
        await _created(await http.post("/accounts", json={"owner": f"o{i}", "balance": 100}))
        for i in range(5)
    ]
    transfers = [
        {"source": accounts[i % 5]["id"], "target": accounts[(i + 1) % 5]["id"], "amount": 7}
        for i in range(20)
    ]
    transfers.append({"source": accounts[0]["id"], "target": accounts[1]["id"], "amount": 999})
    responses = await asyncio.gather(*(http.post("/transfers", json=t) for t in transfers))
    assert sorted(r.status_code for r in responses) == [200] * 20 + [409]
    balances = [
        (await http.get(f"/accounts/{a['id']}")).json()["balance"] for a in accounts
    ]
    assert balances == [100] * 5  # every account sent and received 4 x 7

    author = await _created(await http.post("/authors", json={"name": "Ann"}))
    post = await _created(
        await http.post("/posts", json={"author_id": author["id"], "title": "Busy"})
    )
    await http.post(f"/posts/{post['id']}/publish")
    posted = await asyncio.gather(
        *(
            http.post(f"/posts/{post['id']}/comments", json={"by": f"r{i}", "text": str(i)})
            for i in range(30)
        )
    )
    assert [r.status_code for r in posted] == [201] * 30
    read = (await http.get(f"/posts/{post['id']}")).json()
    assert sorted(int(c["text"]) for c in read["comments"]) == list(range(30))


async def test_the_services_on_the_memory_adapters(memory_uow: Callable[[], Any]) -> None:
    author = await create_author(memory_uow(), "Ann")
    post = await write_post(memory_uow(), author.id, "Hi", "...")
    with pytest.raises(NotFound):
        await add_comment(memory_uow(), post.id, "Bob", "too early")
    await publish_post(memory_uow(), post.id)
    comment = await add_comment(memory_uow(), post.id, "Bob", "nice")
    async with memory_uow() as uow:
        assert [c.id for c in await uow.comments.find()] == [comment.id]
    with pytest.raises(NotFound):
        await write_post(memory_uow(), "0" * 24, "orphan", "")
    with pytest.raises(NotFound):
        await transfer_funds(memory_uow(), "0" * 24, "1" * 24, 5)


async def test_the_app_runs_on_the_memory_adapters(memory_uow: Callable[[], Any]) -> None:
    app = create_app(uow_factory=memory_uow)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://blog") as http:
            author = await _created(await http.post("/authors", json={"name": "Ann"}))
            post = await _created(
                await http.post("/posts", json={"author_id": author["id"], "title": "T"})
            )
            await http.post(f"/posts/{post['id']}/publish")
            read = (await http.get(f"/posts/{post['id']}")).json()
    assert read["published"] is True
    assert read["author"]["name"] == "Ann"


async def test_errors_are_documented_short_and_never_500(http: httpx.AsyncClient) -> None:
    schema = (await http.get("/openapi.json")).json()
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            declared = set(operation["responses"])
            assert {"400", "404", "409", "413", "422", "503"} <= declared, path

    bad_ids = ["nonsense", "0" * 24, "x" * 5000]
    for bad in bad_ids:  # a bad id: 404 on every endpoint that takes one
        responses = [
            await http.get(f"/posts/{bad}"),
            await http.post(f"/posts/{bad}/publish"),
            await http.post(f"/posts/{bad}/comments", json={"by": "Bob", "text": "hi"}),
            await http.delete(f"/authors/{bad}"),
            await http.get(f"/accounts/{bad}"),
            await http.get(f"/files/{bad}"),
            await http.put(f"/books/{bad}/attachments/a.bin", content=b"x"),
            await http.post("/posts", json={"author_id": bad, "title": "T"}),
            await http.post("/books", json={"author_id": bad, "title": "T"}),
            await http.post("/transfers", json={"source": bad, "target": bad, "amount": 1}),
        ]
        assert [r.status_code for r in responses] == [404] * len(responses), bad
        for response in responses:
            assert set(response.json()) == {"error", "detail"}
            assert len(response.text) < 400  # the 5,000-character id is not echoed

    huge = await http.post("/authors", json={"name": "x" * 1_000_000})
    assert huge.status_code == 422 and len(huge.text) < 600
    assert set(huge.json()) == {"error", "detail"}
    surrogate = await http.post(
        "/authors", content=b'{"name": "bad \\ud800"}', headers={"content-type": "application/json"}
    )
    assert surrogate.status_code == 422 and "\\ud800" not in surrogate.text
    garbled = await http.post(
        "/users", content=b"\xff{", headers={"content-type": "application/json"}
    )
    assert garbled.status_code in (400, 422) and set(garbled.json()) == {"error", "detail"}
    unknown = await http.post("/authors", json={"name": "Ann", "extra": 1})
    assert unknown.status_code == 422

    rich = await http.post("/accounts", json={"owner": "Rich", "balance": 2**63})
    assert rich.status_code == 422  # beyond int64: refused by the schema
    full = await _created(await http.post("/accounts", json={"owner": "F", "balance": 2**63 - 1}))
    other = await _created(await http.post("/accounts", json={"owner": "O", "balance": 5}))
    overflow = await http.post(
        "/transfers", json={"source": other["id"], "target": full["id"], "amount": 1}
    )
    assert overflow.status_code == 422 and overflow.json()["error"] == "InvalidEntity"
    same = await http.post(
        "/transfers", json={"source": other["id"], "target": other["id"], "amount": 1}
    )
    assert same.status_code == 422
    balances = [(await http.get(f"/accounts/{a['id']}")).json()["balance"] for a in (full, other)]
    assert balances == [2**63 - 1, 5]  # nothing moved
