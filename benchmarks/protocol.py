"""The worker side of the peer benchmark: stdlib only, so it runs in every contestant's
virtualenv (Beanie's and ODMantic's have neither this project nor MongoEngine).

A contestant is a class whose methods are the workloads (coroutines or plain functions);
:func:`serve` reads one JSON command per line on stdin, runs it, and answers one JSON line
on stdout: the client CPU (``time.process_time``) and wall time the call took, and what it
returned (the coordinator checks it and reads the data back itself).
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import time
from typing import Any

# Every contestant declares the same model: name (indexed), age, email, tags.
GROUP = [
    {"$group": {"_id": "$age", "count": {"$sum": 1}, "n": {"$sum": 1}}},
    {"$sort": {"_id": 1}},
]
COUNT_FILTER_AGE = 150  # count documents with age >= this


def person(i: int, tag: str = "p") -> dict[str, Any]:
    """The stored fields of person ``i`` (no ``_id``)."""
    return {"name": f"{tag}{i}", "age": i, "email": f"{tag}{i}@example.com", "tags": ["a", "b"]}


async def _call(target: Any, args: list[Any]) -> tuple[float, float, Any]:
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    result = target(*args)
    if asyncio.iscoroutine(result):
        result = await result
    return time.process_time() - cpu, time.perf_counter() - wall, result


def _versions(names: list[str]) -> dict[str, str | None]:
    from importlib import metadata

    found: dict[str, str | None] = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


async def _serve(contestant: Any) -> None:
    loop = asyncio.get_running_loop()
    out = sys.stdout
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            return
        command = json.loads(line)
        op = command["op"]
        try:
            if op == "quit":
                await _call(contestant.close, [])
                out.write(json.dumps({"ok": True}) + "\n")
                out.flush()
                return
            method = _versions if op == "versions" else getattr(contestant, op, None)
            if method is None:
                answer: dict[str, Any] = {"ok": True, "unsupported": True}
            else:
                cpu, wall, result = await _call(method, command.get("args", []))
                answer = {"ok": True, "cpu": cpu, "wall": wall, "result": result}
        except Exception as error:  # reported to the coordinator, which stops the run
            answer = {"ok": False, "error": f"{type(error).__name__}: {error}"}
        out.write(json.dumps(answer) + "\n")
        out.flush()


def serve(contestant: Any) -> None:
    """Answer the coordinator's commands until it says ``quit`` or closes stdin."""
    asyncio.run(_serve(contestant))


def without_retryable_writes(uri: str) -> str:
    """``uri`` with ``retryWrites=false``: the embedded server keeps a record per retryable
    write and scans them all on every write (docs/server-gaps.md), which would make later
    contestants and repetitions pay for earlier ones."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(uri)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k.lower() != "retrywrites"]
    query.append(("retryWrites", "false"))
    path = parts.path or "/"
    return urlunsplit((parts.scheme, parts.netloc, path, urlencode(query), parts.fragment))
