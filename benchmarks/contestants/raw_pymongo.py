"""Raw PyMongo async: hand-written dicts, the floor every ODM is measured against."""

from __future__ import annotations

import asyncio
from typing import Any

import _path  # noqa: F401
from protocol import COUNT_FILTER_AGE, GROUP, person, serve
from pymongo import AsyncMongoClient


class RawPyMongo:
    async def setup(self, uri: str, db: str, prefix: str) -> None:
        self.client: AsyncMongoClient[Any] = AsyncMongoClient(uri)
        database = self.client[db]
        self.people, self.big = database[f"{prefix}_people"], database["big"]
        self.bulk = database[f"{prefix}_bulk"]
        await self.people.create_index("name")

    async def insert_one(self, n: int, round_: int) -> int:
        for i in range(n):
            await self.people.insert_one(person(i, f"r{round_}-"))
        return n

    async def get_one(self, n: int) -> int:
        found = 0
        for i in range(n):
            found += await self.people.find_one({"name": f"p{i}"}) is not None
        return found

    async def update_inc(self, n: int) -> int:
        done = 0
        for i in range(n):
            result = await self.people.update_one({"name": f"p{i}"}, {"$inc": {"age": 1}})
            done += result.modified_count
        return done

    async def count(self, n: int) -> int:
        value = 0
        for _ in range(n):
            value = await self.people.count_documents({"age": {"$gte": COUNT_FILTER_AGE}})
        return value

    async def iterate(self) -> int:
        return len(await self.big.find().to_list())

    async def bulk_insert(self, n: int) -> int:
        result = await self.bulk.insert_many([person(i, "b") for i in range(n)])
        return len(result.inserted_ids)

    async def aggregate(self, n: int) -> int:
        groups: list[Any] = []
        for _ in range(n):
            groups = await (await self.big.aggregate(GROUP)).to_list()
        return len(groups)

    async def gets_sequential(self, n: int) -> int:
        return sum([await self.people.find_one({"name": f"p{i}"}) is not None for i in range(n)])

    async def gets_gathered(self, n: int) -> int:
        found = await asyncio.gather(*(self.people.find_one({"name": f"p{i}"}) for i in range(n)))
        return sum(doc is not None for doc in found)

    async def close(self) -> None:
        await self.client.close()


if __name__ == "__main__":
    serve(RawPyMongo())
