"""Mixing up what is awaitable: properties and cursors are not, results of awaitables are Futures;
clients and databases are not iterable (not even asynchronously), cursors only asynchronously.

Each line that mypy must reject ends with ``# E: <error code>``.
"""

from __future__ import annotations

from typing import Any

from motor.motor_asyncio import AsyncIOMotorClient, AsyncIOMotorCollection


async def awaiting(coll: AsyncIOMotorCollection[dict[str, Any]]) -> None:
    await coll.name  # E: misc
    await coll.find()  # E: misc
    not_awaited = coll.find_one({})
    print(not_awaited["_id"])  # E: index
    for doc in coll.find():  # E: attr-defined
        print(doc)
    async for change in coll.find_one():  # E: attr-defined
        print(change)
    await coll.find_onee({})  # E: operator


def iterating(client: AsyncIOMotorClient[dict[str, Any]]) -> None:
    for database in client:  # E: misc
        print(database)
    for collection in client.db:  # E: misc
        print(collection)
