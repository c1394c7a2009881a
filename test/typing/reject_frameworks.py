"""Each framework's classes are distinct: a Tornado object where an asyncio one is declared is an error.

Each line that mypy must reject ends with ``# E: <error code>``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from motor.motor_anyio import AnyIOMotorCollection
from motor.motor_asyncio import AsyncIOMotorCollection, AsyncIOMotorCursor
from motor.motor_tornado import MotorClientSession, MotorCollection
from motor.motor_trio import TrioMotorCollection
from motor.motor_twisted import TwistedMotorCollection

Doc = dict[str, Any]


def takes_asyncio_collection(coll: AsyncIOMotorCollection[Doc]) -> None:
    pass


async def mixing(coll: AsyncIOMotorCollection[Doc], tornado_coll: MotorCollection[Doc]) -> None:
    takes_asyncio_collection(tornado_coll)  # E: arg-type
    cursor: AsyncIOMotorCursor[Doc] = tornado_coll.find()  # E: assignment
    async with await tornado_coll.database.client.start_session() as tornado_session:
        takes_session(tornado_session)
        await coll.insert_one({}, session=tornado_session)  # E: arg-type
    print(cursor)


def takes_session(session: MotorClientSession) -> None:
    pass


async def twisted_is_not_asyncio(twisted_coll: TwistedMotorCollection[Doc]) -> None:
    takes_asyncio_collection(twisted_coll)  # E: arg-type
    future: asyncio.Future[Doc | None] = twisted_coll.find_one({})  # E: assignment
    print(future)


async def trio_and_anyio_are_not_asyncio(
    trio_coll: TrioMotorCollection[Doc], anyio_coll: AnyIOMotorCollection[Doc]
) -> None:
    takes_asyncio_collection(trio_coll)  # E: arg-type
    takes_asyncio_collection(anyio_coll)  # E: arg-type
    future: asyncio.Future[Doc | None] = anyio_coll.find_one({})  # E: assignment
    print(future)
