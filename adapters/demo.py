"""A guided tour: the embedded server, a service on the unit of work, the async API.

Run with ``python -m adapters.demo``.  Without ``MONGODB_URI`` it starts the embedded
SecantusDB server itself (a single-node replica set, so transactions work).
"""

from __future__ import annotations

import asyncio
import uuid

from mongoengine import Document, IntField, StringField

import persistence.engine  # noqa: F401  (activates the async API on MongoEngine)
from adapters.registry import registry
from domain.entities import Account
from domain.errors import InsufficientFunds
from domain.library import Author, Book, Contract, Review, Shelf
from domain.services import attach_file, register_user, transfer_funds
from persistence.engine import connect_async, disconnect_async
from persistence.errors import Conflict, DeleteDenied
from persistence.mongo import MongoUnitOfWork
from persistence.specs import F
from persistence.testing import server_uri_from_env_or_start


class Visitor(Document):
    """A plain MongoEngine model, used exactly as the spec shows."""

    name = StringField(required=True)
    email = StringField(required=True)
    visits = IntField(default=0)


def say(text: str) -> None:
    print(f"  {text}")


async def tour(uri: str) -> None:
    db_name = f"demo_{uuid.uuid4().hex[:8]}"
    client = await connect_async(db_name, host=uri)
    try:
        print("1. A service through the unit of work (one transaction per block)")
        user = await register_user(MongoUnitOfWork(registry), name="Ada", email="ada@example.com")
        say(f"registered {user.name} <{user.email}> as {user.id}")
        try:
            await register_user(
                MongoUnitOfWork(registry), name="Ada again", email="ada@example.com"
            )
        except Conflict as exc:
            say(f"second registration refused: {exc}")
        async with MongoUnitOfWork(registry) as uow:
            stored = await uow.users.get(user.id)
        say(f"read back in a new unit of work: {stored.name}, version {stored.version}")

        print("2. The spec's basic operations on a MongoEngine model")
        visitor = Visitor(name="John", email="john@example.com")
        await visitor.async_save()
        say(f"async_save -> id {visitor.id}")
        await Visitor.objects(id=visitor.id).async_update_one(inc__visits=1)
        await visitor.async_reload()
        say(f"async_update_one(inc__visits=1) + async_reload -> visits = {visitor.visits}")
        await Visitor.objects.async_create(name="Jane", email="jane@gmail.com")
        names = [v.name async for v in Visitor.objects.order_by("name")]
        say(f"async for over Visitor.objects.order_by('name') -> {names}")
        say(f"async_count -> {await Visitor.objects.async_count()}")
        first = await Visitor.objects.filter(email__contains="@gmail.com").async_first()
        assert first is not None
        say(f"filter(email__contains='@gmail.com').async_first() -> {first.name}")
        try:
            visitor.save()
        except RuntimeError as exc:
            say(f"sync save() on an async alias -> RuntimeError: {exc}")
        await visitor.async_delete()
        say(f"async_delete -> {await Visitor.objects.async_count()} visitor(s) left")
        await Visitor.async_drop_collection()

        print("3. References, files and cascades behind the ports")
        ann, bob = Author(name="Ann"), Author(name="Bob")
        book = Book(title="Async MongoDB", author_id=ann.id, editor_id=bob.id)
        async with MongoUnitOfWork(registry) as uow:
            await uow.authors.add_many([ann, bob])
            await uow.books.add(book)
            await uow.reviews.add(Review(book_id=book.id, text="Clear and short"))
            await uow.shelves.add(Shelf(name="To read", book_ids=[book.id]))
            await uow.commit()
        attachment = await attach_file(
            MongoUnitOfWork(registry), book.id, b"%PDF-1.7 ...", "manual.pdf", "application/pdf"
        )
        async with MongoUnitOfWork(registry) as uow:
            [loaded] = await uow.books.find_related(with_related=("author", "editor"))
            content = await uow.files.read(attachment.file_id)
        say(
            f"find_related -> '{loaded.entity.title}' by {loaded.related['author'].name}, "
            f"edited by {loaded.related['editor'].name}"
        )
        say(f"attachment {attachment.filename}: {len(content)} bytes in GridFS")
        async with MongoUnitOfWork(registry) as uow:
            await uow.contracts.add(Contract(author_id=ann.id, title="Sequel"))
            await uow.commit()
        async with MongoUnitOfWork(registry) as uow:
            try:
                await uow.authors.remove(ann.id)
            except DeleteDenied:
                say("removing Ann while she has a contract -> DeleteDenied (DENY)")
            await uow.contracts.remove_where(F("author_id") == ann.id)
            await uow.authors.remove(ann.id)
            await uow.commit()
        async with MongoUnitOfWork(registry) as uow:
            books, reviews = await uow.books.count(), await uow.reviews.count()
            [shelf] = await uow.shelves.find()
        say(
            f"after removing Ann (CASCADE): {books} books, {reviews} reviews, "
            f"shelf holds {len(shelf.book_ids)} books (PULL)"
        )

        print("4. Transactions: concurrent transfers through the unit of work")
        accounts = [Account(owner=f"owner{i}", balance=100) for i in range(5)]
        async with MongoUnitOfWork(registry) as uow:
            await uow.accounts.add_many(accounts)
            await uow.commit()
        moves = [(accounts[i % 5].id, accounts[(i + 2) % 5].id, 10 + i) for i in range(10)]
        moves.append((accounts[0].id, accounts[1].id, 10_000))  # cannot be covered
        results = await asyncio.gather(
            *(transfer_funds(MongoUnitOfWork(registry), s, t, amount) for s, t, amount in moves),
            return_exceptions=True,
        )
        refused = sum(isinstance(r, InsufficientFunds) for r in results)
        async with MongoUnitOfWork(registry) as uow:
            total = sum(a.balance for a in await uow.accounts.find())
        say(f"{len(moves)} concurrent transfers, {refused} refused; total balance {total}")
    finally:
        await client.drop_database(db_name)
        await disconnect_async()


def main() -> None:
    """Start the embedded server unless ``MONGODB_URI`` is set, then run the tour."""
    uri, server = server_uri_from_env_or_start()
    print(f"MongoDB at {uri}" + (" (embedded SecantusDB)" if server else ""))
    try:
        asyncio.run(tour(uri))
    finally:
        if server is not None:
            server.stop()
    print("Done.")


if __name__ == "__main__":
    main()
