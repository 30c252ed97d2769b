"""Plain sync MongoEngine (no async API: the concurrency workload does not apply)."""

from __future__ import annotations

from typing import Any

import _path  # noqa: F401
from mongoengine import connect, disconnect
from mongoengine_documents import people_documents
from protocol import COUNT_FILTER_AGE, GROUP, person, serve


class SyncMongoEngine:
    def setup(self, uri: str, db: str, prefix: str) -> None:
        connect(db, host=uri)
        self.People, self.Big, self.Bulk = people_documents(prefix)
        self.People.ensure_indexes()

    def insert_one(self, n: int, round_: int) -> int:
        for i in range(n):
            self.People(**person(i, f"r{round_}-")).save()
        return n

    def get_one(self, n: int) -> int:
        return sum(self.People.objects.get(name=f"p{i}") is not None for i in range(n))

    def update_inc(self, n: int) -> int:
        return sum(self.People.objects(name=f"p{i}").update_one(inc__age=1) for i in range(n))

    def count(self, n: int) -> int:
        value = 0
        for _ in range(n):
            value = self.People.objects(age__gte=COUNT_FILTER_AGE).count()
        return value

    def iterate(self) -> int:
        docs = list(self.Big.objects)
        assert all(isinstance(d, self.Big) for d in docs)
        return len(docs)

    def bulk_insert(self, n: int) -> int:
        docs = [self.Bulk(**person(i, "b")) for i in range(n)]
        return len(self.Bulk.objects.insert(docs, load_bulk=False))

    def aggregate(self, n: int) -> int:
        groups: list[Any] = []
        for _ in range(n):
            groups = list(self.Big.objects.aggregate(GROUP))
        return len(groups)

    def gets_sequential(self, n: int) -> int:
        return self.get_one(n)

    def close(self) -> None:
        disconnect()


if __name__ == "__main__":
    serve(SyncMongoEngine())
