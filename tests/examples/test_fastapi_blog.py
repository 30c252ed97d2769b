"""The FastAPI blog driven over HTTP (``httpx.AsyncClient``) against the server, and its
services on the memory adapters (the plugin's ``memory_uow``)."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from pydantic import TypeAdapter, ValidationError

from adapters.http.app import VISIBLE, Name, create_app
from domain.library import Author
from domain.services import add_comment, create_author, publish_post, transfer_funds, write_post
from persistence.engine import get_async_connection
from persistence.errors import NotFound


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


@pytest.fixture
async def memory_http(memory_uow: Callable[[], Any]) -> AsyncIterator[httpx.AsyncClient]:
    """The app on the memory adapters (no server): its HTTP layer alone."""
    app = create_app(uow_factory=memory_uow)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://blog") as client:
            yield client


async def test_integers_are_json_integers_never_booleans_or_text(
    memory_http: httpx.AsyncClient,
) -> None:
    for balance in (True, False, "1", "5", 1.5, None, [1]):
        refused = await memory_http.post("/accounts", json={"owner": "Ann", "balance": balance})
        assert refused.status_code == 422, balance
    ann = await _created(await memory_http.post("/accounts", json={"owner": "Ann", "balance": 10}))
    bob = await _created(await memory_http.post("/accounts", json={"owner": "Bob", "balance": 2.0}))
    assert bob["balance"] == 2 and type(bob["balance"]) is int  # 2.0 is an integer in JSON
    for amount in (True, "1", "3", 0.5):
        transfer = {"source": ann["id"], "target": bob["id"], "amount": amount}
        assert (await memory_http.post("/transfers", json=transfer)).status_code == 422, amount
    balances = [(await memory_http.get(f"/accounts/{a['id']}")).json() for a in (ann, bob)]
    assert [a["balance"] for a in balances] == [10, 2]  # a transfer of `true` moved nothing
    moved = await memory_http.post(
        "/transfers", json={"source": ann["id"], "target": bob["id"], "amount": 3.0}
    )
    assert moved.status_code == 200
    assert (await memory_http.get(f"/accounts/{bob['id']}")).json()["balance"] == 5


async def test_integer_bounds_are_published_as_integers(memory_http: httpx.AsyncClient) -> None:
    raw = (await memory_http.get("/openapi.json")).text
    assert "e+18" not in raw
    schemas = (await memory_http.get("/openapi.json")).json()["components"]["schemas"]
    integers = {
        (model, name): spec
        for model, schema in schemas.items()
        for name, spec in schema.get("properties", {}).items()
        if spec.get("type") == "integer"
    }
    assert integers[("Transfer", "amount")]["maximum"] == 2**63 - 1
    assert integers[("Transfer", "amount")]["exclusiveMinimum"] == 0
    assert integers[("NewAccount", "balance")]["maximum"] == 2**63 - 1
    assert integers[("NewAccount", "balance")]["minimum"] == 0
    for spec in integers.values():
        for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            assert type(spec.get(key, 0)) is int, spec
    top = await memory_http.post("/accounts", json={"owner": "Top", "balance": 2**63 - 1})
    assert top.status_code == 201


def test_the_name_pattern_is_the_domains_rule_for_every_character() -> None:
    """A one-character name is accepted by the schema's pattern (as pydantic applies it,
    and as Python's ``re`` reads it) exactly when the domain accepts it."""
    name = TypeAdapter(Name)
    pattern = re.compile(VISIBLE)
    differing = []
    for code in range(0x110000):
        if 0xD800 <= code <= 0xDFFF:  # lone surrogates: not text in JSON or BSON
            continue
        char = chr(code)
        try:
            Author(name=char)
            domain = True
        except ValueError:
            domain = False
        try:
            name.validate_python(char)
            schema = True
        except ValidationError:
            schema = False
        if not domain == schema == bool(pattern.search(char)):
            differing.append(hex(code))
    assert differing == []
    assert not bool(pattern.search("\u001f")) and not bool(pattern.search("\u0085"))


async def test_error_bodies_carry_no_input_and_no_internal_names(
    memory_http: httpx.AsyncClient,
) -> None:
    probe = "PROBE$ne"
    bodies = [
        await memory_http.get(f"/accounts/{probe}"),
        await memory_http.get(f"/posts/{'a' * 24}"),
        await memory_http.post(
            "/transfers", json={"source": "b" * 24, "target": probe, "amount": 1}
        ),
        await memory_http.post("/authors", json={"name": "Ann", probe: 1}),
        await memory_http.post("/accounts", json={"owner": "Ann", "balance": probe}),
    ]
    ann = await _created(await memory_http.post("/accounts", json={"owner": "Ann", "balance": 7}))
    bob = await _created(await memory_http.post("/accounts", json={"owner": "Bob", "balance": 0}))
    bodies.append(
        await memory_http.post(
            "/transfers", json={"source": ann["id"], "target": bob["id"], "amount": 9}
        )
    )
    bodies.append(
        await memory_http.post(
            "/transfers", json={"source": ann["id"], "target": ann["id"], "amount": 1}
        )
    )
    assert [r.status_code for r in bodies] == [404, 404, 404, 422, 422, 409, 422]
    for response in bodies:
        body = response.json()
        assert set(body) == {"error", "detail"}
        for secret in (probe, "$ne", "a" * 24, "b" * 24, ann["id"], "7", "9", "ValueError"):
            assert secret not in response.text, (secret, body)
    assert bodies[0].json() == {
        "error": "NotFound", "detail": "Account: not found, or its id is malformed"
    }
    assert bodies[5].json()["error"] == "InsufficientFunds"


async def test_an_unreachable_store_answers_503_without_driver_names() -> None:
    app = create_app(uri="mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=100", db="nowhere")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://blog") as http:
            response = await http.get(f"/accounts/{'c' * 24}")
    assert response.status_code == 503
    assert response.json() == {
        "error": "StoreUnavailable", "detail": "the database is unreachable; retry later"
    }
