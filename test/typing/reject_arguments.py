"""Calls that PyMongo's own annotations reject: the stubs carry them over to Motor's methods.

Each line that mypy must reject ends with ``# E: <error code>``.
"""

from __future__ import annotations

from typing import Any

from motor.motor_asyncio import AsyncIOMotorClient, AsyncIOMotorCollection


async def wrong_arguments(coll: AsyncIOMotorCollection[dict[str, Any]]) -> None:
    await coll.insert_one()  # E: call-arg
    await coll.count_documents(filter=3)  # E: arg-type
    await coll.delete_one({}, upsert=True)  # E: call-arg
    coll.find().limit("10")  # E: arg-type
    coll.find().sort(3.5)  # E: arg-type
    await coll.database.drop_collection(42)  # E: arg-type


def wrong_constructor() -> None:
    AsyncIOMotorClient[dict[str, Any]](port="27017")  # E: arg-type
