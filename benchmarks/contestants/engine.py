"""This project's async engine: MongoEngine Documents with the ``async_`` API."""

from __future__ import annotations

import asyncio
from typing import Any

import _path  # noqa: F401
from mongoengine_documents import people_documents
from protocol import COUNT_FILTER_AGE, GROUP, person, serve

import persistence.engine  # noqa: F401  (activates the async API)
from persistence.engine import connect_async, disconnect_async


class Engine:
    async def setup(self, uri: str, db: str, prefix: str) -> None:
        await connect_async(db, host=uri)
        self.People, self.Big, self.Bulk = people_documents(prefix)
        await self.People.async_ensure_indexes()

    async def insert_one(self, n: int, round_: int) -> int:
        for i in range(n):
            await self.People(**person(i, f"r{round_}-")).async_save()
        return n

    async def get_one(self, n: int) -> int:
        found = 0
        for i in range(n):
            found += await self.People.objects.async_get(name=f"p{i}") is not None
        return found

    async def update_inc(self, n: int) -> int:
        done = 0
        for i in range(n):
            done += await self.People.objects(name=f"p{i}").async_update_one(inc__age=1)
        return done

    async def count(self, n: int) -> int:
        value = 0
        for _ in range(n):
            value = await self.People.objects(age__gte=COUNT_FILTER_AGE).async_count()
        return value

    async def iterate(self) -> int:
        docs = [d async for d in self.Big.objects]
        assert all(isinstance(d, self.Big) for d in docs)
        return len(docs)

    async def bulk_insert(self, n: int) -> int:
        docs = [self.Bulk(**person(i, "b")) for i in range(n)]
        return len(await self.Bulk.objects.async_insert(docs, load_bulk=False))

    async def aggregate(self, n: int) -> int:
        groups: list[Any] = []
        for _ in range(n):
            groups = await (await self.Big.objects.async_aggregate(GROUP)).to_list()
        return len(groups)

    async def gets_sequential(self, n: int) -> int:
        return await self.get_one(n)

    async def gets_gathered(self, n: int) -> int:
        get = self.People.objects.async_get
        found = await asyncio.gather(*(get(name=f"p{i}") for i in range(n)))
        return sum(doc is not None for doc in found)

    async def close(self) -> None:
        await disconnect_async()


if __name__ == "__main__":
    serve(Engine())
