"""Beanie 2.x (pydantic v2 models over PyMongo's async client), in its own virtualenv."""

from __future__ import annotations

import asyncio
from typing import Any

import _path  # noqa: F401
from beanie import Document, Indexed, init_beanie
from beanie.operators import Inc
from protocol import COUNT_FILTER_AGE, GROUP, person, serve
from pymongo import AsyncMongoClient


class _Person(Document):
    name: Indexed(str)  # type: ignore[valid-type]
    age: int
    email: str
    tags: list[str]


def _model(name: str, collection: str) -> Any:
    class Model(_Person):
        class Settings:
            name = collection

    Model.__name__ = Model.__qualname__ = name
    return Model


class BeaniePeer:
    async def setup(self, uri: str, db: str, prefix: str) -> None:
        self.client: AsyncMongoClient[Any] = AsyncMongoClient(uri)
        self.People = _model("People", f"{prefix}_people")
        self.Big = _model("Big", "big")
        self.Bulk = _model("Bulk", f"{prefix}_bulk")
        await init_beanie(
            database=self.client[db], document_models=[self.People, self.Big, self.Bulk]
        )

    async def insert_one(self, n: int, round_: int) -> int:
        for i in range(n):
            await self.People(**person(i, f"r{round_}-")).insert()
        return n

    async def get_one(self, n: int) -> int:
        People = self.People
        found = 0
        for i in range(n):
            found += await People.find_one(People.name == f"p{i}") is not None
        return found

    async def update_inc(self, n: int) -> int:
        People = self.People
        done = 0
        for i in range(n):
            result = await People.find_one(People.name == f"p{i}").update(Inc({People.age: 1}))
            done += result.modified_count
        return done

    async def count(self, n: int) -> int:
        People = self.People
        value = 0
        for _ in range(n):
            value = await People.find(People.age >= COUNT_FILTER_AGE).count()
        return value

    async def iterate(self) -> int:
        docs = await self.Big.find_all().to_list()
        assert all(isinstance(d, self.Big) for d in docs)
        return len(docs)

    async def bulk_insert(self, n: int) -> int:
        docs = [self.Bulk(**person(i, "b")) for i in range(n)]
        result = await self.Bulk.insert_many(docs)
        return len(result.inserted_ids)

    async def aggregate(self, n: int) -> int:
        groups: list[Any] = []
        for _ in range(n):
            groups = await self.Big.aggregate(GROUP).to_list()
        return len(groups)

    async def gets_sequential(self, n: int) -> int:
        return await self.get_one(n)

    async def gets_gathered(self, n: int) -> int:
        People = self.People
        found = await asyncio.gather(*(People.find_one(People.name == f"p{i}") for i in range(n)))
        return sum(doc is not None for doc in found)

    async def close(self) -> None:
        await self.client.close()


if __name__ == "__main__":
    serve(BeaniePeer())
