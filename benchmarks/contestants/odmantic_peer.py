"""ODMantic 1.x (pydantic v2 models over Motor), in its own virtualenv.

ODMantic has no update-by-filter and no aggregation API: those workloads are left out
(the coordinator shows "no API"), as is a bulk insert in one round trip (``save_all``
saves document by document, which is what is measured)."""

from __future__ import annotations

import asyncio
from typing import Any

import _path  # noqa: F401
from motor.motor_asyncio import AsyncIOMotorClient
from odmantic import AIOEngine, Field, Model
from protocol import COUNT_FILTER_AGE, person, serve


def _model(name: str, collection: str) -> Any:
    namespace = {
        "__annotations__": {"name": str, "age": int, "email": str, "tags": list[str]},
        "name": Field(index=True),
        "model_config": {"collection": collection},
        "__module__": __name__,
    }
    return type(name, (Model,), namespace)


class OdmanticPeer:
    async def setup(self, uri: str, db: str, prefix: str) -> None:
        self.client: Any = AsyncIOMotorClient(uri)
        self.engine = AIOEngine(client=self.client, database=db)
        self.People = _model("People", f"{prefix}_people")
        self.Big = _model("Big", "big")
        self.Bulk = _model("Bulk", f"{prefix}_bulk")
        await self.engine.configure_database([self.People])  # the index on name

    async def insert_one(self, n: int, round_: int) -> int:
        for i in range(n):
            await self.engine.save(self.People(**person(i, f"r{round_}-")))
        return n

    async def get_one(self, n: int) -> int:
        People, find_one = self.People, self.engine.find_one
        found = 0
        for i in range(n):
            found += await find_one(People, People.name == f"p{i}") is not None
        return found

    async def count(self, n: int) -> int:
        People = self.People
        value = 0
        for _ in range(n):
            value = await self.engine.count(People, People.age >= COUNT_FILTER_AGE)
        return value

    async def iterate(self) -> int:
        docs = await self.engine.find(self.Big)
        assert all(isinstance(d, self.Big) for d in docs)
        return len(docs)

    async def bulk_insert(self, n: int) -> int:
        docs = [self.Bulk(**person(i, "b")) for i in range(n)]
        return len(await self.engine.save_all(docs))

    async def gets_sequential(self, n: int) -> int:
        return await self.get_one(n)

    async def gets_gathered(self, n: int) -> int:
        People, find_one = self.People, self.engine.find_one
        found = await asyncio.gather(*(find_one(People, People.name == f"p{i}") for i in range(n)))
        return sum(doc is not None for doc in found)

    async def close(self) -> None:
        self.client.close()


if __name__ == "__main__":
    serve(OdmanticPeer())
