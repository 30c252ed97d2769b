"""Embedded-server gaps the peer benchmark ran into (docs/server-gaps.md)."""

from __future__ import annotations

from typing import Any

import pymongo

from markers import server_gap


@server_gap("createIndexes with background: false conflicts with the same existing index")
def test_recreating_an_index_with_the_background_option(
    sync_client: pymongo.MongoClient[Any],
) -> None:
    """MongoEngine's ``ensure_indexes`` sends ``background: false``; an index with the
    same key and name made by another client (PyMongo, Beanie, ODMantic) must not clash."""
    collection = sync_client.gaps.background
    collection.drop()
    collection.create_index("name")
    assert collection.create_index("name", background=False) == "name_1"
    assert list(collection.index_information()) == ["_id_", "name_1"]
