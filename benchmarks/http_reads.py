"""1,000 concurrent GETs through uvicorn: the FastAPI blog's reads with a transaction per
request (the old way) and with read-only units of work (``uow.reading()``).

Run with ``python -m benchmarks.http_reads`` (starts the embedded server unless
``MONGODB_URI`` is set).  It seeds accounts and published posts with comments, then for
each round and each mode starts the app under uvicorn on a loopback port in its own
process and sends ``--requests`` GETs at once (half ``/accounts/{id}``, half
``/posts/{id}``, which loads the author and the comments) from one ``httpx`` client; it
reports requests/s over the wall time and the p50/p99 latency, and writes the table to
``benchmarks/RESULTS-http.md``.  Modes alternate within a round so drift hits both.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

import persistence.engine  # noqa: F401  (activates the async API)
from adapters.registry import registry
from domain.entities import Account
from domain.library import Author, Comment, Post
from persistence.engine import connect_async, disconnect_async
from persistence.mongo import MongoUnitOfWork
from persistence.testing import server_uri_from_env_or_start

MODES = ("transactional", "read-only")
RESULTS = Path(__file__).with_name("RESULTS-http.md")


class TransactionalReads(MongoUnitOfWork):
    """The app's reads as they were: ``reading()`` gives a transactional unit."""

    def reading(self) -> MongoUnitOfWork:
        return MongoUnitOfWork(self.registry, alias=self.alias)


def build_app(mode: str, uri: str, db: str) -> Any:
    """The blog app reading in ``mode``, connected to ``db`` in its lifespan."""
    from adapters.http.app import create_app

    unit = TransactionalReads if mode == "transactional" else MongoUnitOfWork
    app = create_app(uow_factory=lambda: unit(registry))
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: Any) -> AsyncIterator[None]:
        await connect_async(db, host=uri)
        try:
            async with inner(application):
                yield
        finally:
            await disconnect_async()

    app.router.lifespan_context = lifespan
    return app


def serve(mode: str, uri: str, db: str, port: int) -> None:
    import uvicorn

    uvicorn.run(
        build_app(mode, uri, db), host="127.0.0.1", port=port, log_level="warning",
        access_log=False, backlog=4096,
    )


async def seed(uri: str, db: str, accounts: int, posts: int) -> list[str]:
    """The paths to GET: every seeded account and post."""
    await connect_async(db, host=uri)
    try:
        async with MongoUnitOfWork(registry) as uow:
            made = [Account(owner=f"o{i}", balance=100) for i in range(accounts)]
            await uow.accounts.add_many(made)
            author = await uow.authors.add(Author(name="Ann"))
            written = [
                Post(author_id=author.id, title=f"post {i}", body="...", published=True)
                for i in range(posts)
            ]
            await uow.posts.add_many(written)
            await uow.comments.add_many(
                [Comment(post_id=p.id, by="Bob", text=str(j)) for p in written for j in range(3)]
            )
            await uow.commit()
    finally:
        await disconnect_async()
    return [f"/accounts/{a.id}" for a in made] + [f"/posts/{p.id}" for p in written]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _wait_ready(base: str, process: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=2) as client:
        for _ in range(300):
            if process.poll() is not None:
                raise RuntimeError(f"uvicorn exited with {process.returncode}")
            try:
                await client.get("/openapi.json")
                return
            except httpx.TransportError:
                await asyncio.sleep(0.1)
    raise RuntimeError("uvicorn did not answer within 30 s")


@dataclass
class Round:
    mode: str
    requests: int
    wall_s: float
    latencies: list[float]
    errors: int

    @property
    def rate(self) -> float:
        return self.requests / self.wall_s

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _burst(base: str, paths: list[str], mode: str) -> Round:
    limits = httpx.Limits(max_connections=len(paths), max_keepalive_connections=len(paths))
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client:
        latencies: list[float] = []
        errors = 0

        async def one(path: str) -> None:
            nonlocal errors
            started = time.perf_counter()
            response = await client.get(path)
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(one(p) for p in paths))
        wall = time.perf_counter() - started
    return Round(mode, len(paths), wall, latencies, errors)


async def measure(mode: str, uri: str, db: str, paths: list[str]) -> Round:
    port = _free_port()
    command = [sys.executable, "-m", "benchmarks.http_reads", "--serve", mode,
               "--uri", uri, "--db", db, "--port", str(port)]
    process = subprocess.Popen(command, env={**os.environ, "PYTHONPATH": os.getcwd()})
    try:
        base = f"http://127.0.0.1:{port}"
        await _wait_ready(base, process)
        await _burst(base, paths[:20], mode)  # warm the pool and the imports
        return await _burst(base, paths, mode)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _table(rounds: list[Round], requests: int) -> str:
    lines = [
        "# HTTP reads: transactional vs read-only units of work",
        "",
        f"`python -m benchmarks.http_reads`: {requests} concurrent GETs (half",
        "`/accounts/{id}`, half `/posts/{id}` with author and comments) through uvicorn",
        "(one worker) on loopback against the embedded server; one httpx client, one",
        f"connection per request. Machine: {platform.machine()}, {os.cpu_count()} cores,"
        f" Python {platform.python_version()}; shared with other work, so numbers are noisy.",
        "",
        "| round | mode | requests/s | p50 (s) | p99 (s) | non-200 |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for index, result in enumerate(rounds):
        lines.append(
            f"| {index // len(MODES) + 1} | {result.mode} | {result.rate:.0f} | "
            f"{result.percentile(0.5):.2f} | {result.percentile(0.99):.2f} | {result.errors} |"
        )
    lines += ["", "Medians over the rounds:", ""]
    for mode in MODES:
        mine = [r for r in rounds if r.mode == mode]
        lines.append(
            f"- {mode}: {statistics.median(r.rate for r in mine):.0f} requests/s, "
            f"p50 {statistics.median(r.percentile(0.5) for r in mine):.2f} s, "
            f"p99 {statistics.median(r.percentile(0.99) for r in mine):.2f} s"
        )
    return "\n".join(lines) + "\n"


async def main(args: argparse.Namespace) -> None:
    uri, server = server_uri_from_env_or_start()
    db = f"http_reads_{uuid.uuid4().hex[:8]}"
    try:
        paths = await seed(uri, db, accounts=args.requests // 2, posts=args.requests // 2)
        random.Random(1).shuffle(paths)
        rounds = []
        for _ in range(args.rounds):
            for mode in MODES:
                result = await measure(mode, uri, db, paths)
                print(f"{mode}: {result.rate:.0f} req/s, p50 {result.percentile(0.5):.2f} s, "
                      f"p99 {result.percentile(0.99):.2f} s, non-200 {result.errors}")
                rounds.append(result)
        table = _table(rounds, len(paths))
        print(table)
        if args.write:
            RESULTS.write_text(table)
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-write", dest="write", action="store_false")
    parser.add_argument("--serve", choices=MODES)
    parser.add_argument("--uri")
    parser.add_argument("--db")
    parser.add_argument("--port", type=int)
    arguments = parser.parse_args()
    if arguments.serve:
        serve(arguments.serve, arguments.uri, arguments.db, arguments.port)
    else:
        asyncio.run(main(arguments))
