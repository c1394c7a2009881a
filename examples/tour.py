"""A short tour of Motor on both of its frameworks, asyncio and Tornado.

Run it from a clone's root::

    python3 -m venv .venv && .venv/bin/pip install -e '.[demo]' && .venv/bin/python examples/tour.py

It starts a throwaway SecantusDB server (a MongoDB-compatible test server installed by the ``demo``
extra) on a free port of 127.0.0.1 and stops it at the end. Set ``MONGODB_URI`` to run the tour
against a MongoDB replica set of your own instead (it uses a database named ``motor_tour``, which it
drops first).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument

from motor.motor_asyncio import AsyncIOMotorClient

DB_NAME = "motor_tour"

PLANETS = [
    {"name": "Mercury", "moons": 0, "rings": False, "kind": "rocky"},
    {"name": "Venus", "moons": 0, "rings": False, "kind": "rocky"},
    {"name": "Earth", "moons": 1, "rings": False, "kind": "rocky"},
    {"name": "Mars", "moons": 2, "rings": False, "kind": "rocky"},
    {"name": "Jupiter", "moons": 95, "rings": True, "kind": "giant"},
    {"name": "Saturn", "moons": 146, "rings": True, "kind": "giant"},
    {"name": "Uranus", "moons": 28, "rings": True, "kind": "giant"},
    {"name": "Neptune", "moons": 16, "rings": True, "kind": "giant"},
]


def say(text: str) -> None:
    print(text, flush=True)


# ---------------------------------------------------------------------------------------------
# asyncio
# ---------------------------------------------------------------------------------------------


async def asyncio_tour(uri: str) -> None:
    say("== asyncio: AsyncIOMotorClient under asyncio.run")
    client: Any = AsyncIOMotorClient(uri)
    try:
        db = client[DB_NAME]
        await client.drop_database(DB_NAME)
        planets = db.planets

        result = await planets.insert_many(PLANETS)
        say(f"insert_many: inserted {len(result.inserted_ids)} planets")

        await planets.create_index([("name", ASCENDING)], unique=True)
        say(f"create_index: indexes are now {sorted(await planets.index_information())}")

        # find() returns a cursor at once; options chain without I/O; documents arrive on iteration.
        cursor = planets.find({"moons": {"$gt": 0}}, {"_id": 0, "name": 1, "moons": 1})
        top = await cursor.sort("moons", DESCENDING).limit(3).to_list()
        say("find + sort + limit(3) + to_list: " + ", ".join(f"{p['name']} ({p['moons']})" for p in top))

        say("async for over find({'rings': False}).sort('name'):")
        async for planet in planets.find({"rings": False}).sort("name"):
            say(f"  - {planet['name']}")

        pipeline = [
            {"$group": {"_id": "$kind", "planets": {"$sum": 1}, "moons": {"$sum": "$moons"}}},
            {"$sort": {"_id": 1}},
        ]
        say("aggregate (moons per kind of planet):")
        async for group in planets.aggregate(pipeline):
            say(f"  - {group['_id']}: {group['planets']} planets, {group['moons']} moons")

        updated = await planets.update_many({"kind": "giant"}, {"$set": {"visited_by": "Voyager 2"}})
        say(f"update_many: {updated.modified_count} giants visited by Voyager 2")
        earth = await planets.find_one_and_update(
            {"name": "Earth"}, {"$inc": {"moons": 1}}, return_document=ReturnDocument.AFTER
        )
        say(f"find_one_and_update: Earth now has {earth['moons']} moons (hypothetically)")

        # A transaction: with_transaction runs the callback, commits, and retries on transient errors.
        accounts = db.accounts
        await accounts.insert_many([{"_id": "alice", "balance": 100}, {"_id": "bob", "balance": 0}])

        async def transfer(session: Any) -> None:
            await accounts.update_one({"_id": "alice"}, {"$inc": {"balance": -30}}, session=session)
            await accounts.update_one({"_id": "bob"}, {"$inc": {"balance": 30}}, session=session)

        async with await client.start_session() as session:
            await session.with_transaction(transfer)
        balances = {doc["_id"]: doc["balance"] async for doc in accounts.find()}
        say(f"with_transaction: moved 30 from alice to bob; balances are now {balances}")

        # A change stream: `async with` opens it on entry, so the insert below is seen.
        async with planets.watch([{"$match": {"operationType": "insert"}}]) as stream:
            await planets.insert_one({"name": "Pluto", "moons": 5, "rings": False, "kind": "dwarf"})
            change = await stream.next()
        say(
            f"change stream: saw an {change['operationType']} of "
            f"{change['fullDocument']['name']} into {change['ns']['coll']}"
        )

        say(f"count_documents: {await planets.count_documents({})} bodies in the collection")
    finally:
        await client.aclose()
    say("asyncio: client closed")


# ---------------------------------------------------------------------------------------------
# Tornado
# ---------------------------------------------------------------------------------------------


def tornado_tour(uri: str) -> None:
    from tornado import gen
    from tornado.ioloop import IOLoop

    from motor.motor_tornado import MotorClient

    say("== Tornado: MotorClient under IOLoop.run_sync")

    @gen.coroutine
    def count_giants(collection: Any) -> Any:
        # A legacy-style Tornado coroutine: Motor's Futures can be yielded as well as awaited.
        count = yield collection.count_documents({"kind": "giant"})
        return count

    async def main() -> None:
        client: Any = MotorClient(uri)
        try:
            planets = client[DB_NAME].planets
            say(f"the client follows the running loop: {type(client.io_loop).__name__}")

            result = await planets.insert_one({"name": "Ceres", "moons": 0, "rings": False, "kind": "dwarf"})
            say(f"insert_one: inserted Ceres with _id {result.inserted_id}")

            dwarfs = await planets.find({"kind": "dwarf"}).sort("name").to_list()
            say("find dwarfs: " + ", ".join(p["name"] for p in dwarfs))

            giants = await count_giants(planets)
            say(f"gen.coroutine with yield: counted {giants} giant planets")

            deleted = await planets.delete_many({"kind": "dwarf"})
            say(f"delete_many: removed {deleted.deleted_count} dwarf planets")
            await client.drop_database(DB_NAME)
            say(f"drop_database: {DB_NAME} dropped")
        finally:
            await client.aclose()
        say("Tornado: client closed")

    IOLoop.current().run_sync(main)


# ---------------------------------------------------------------------------------------------


@contextmanager
def mongodb_uri() -> Iterator[str]:
    """The URI of ``MONGODB_URI``, or of a SecantusDB server started for the tour."""
    uri = os.environ.get("MONGODB_URI")
    if uri:
        say(f"Using MONGODB_URI={uri}")
        yield uri
        return
    from motor.testing import SecantusServer

    with SecantusServer() as server:
        say(f"Started SecantusDB at {server.uri}")
        yield server.uri
    say("Stopped SecantusDB")


def main() -> int:
    with mongodb_uri() as uri:
        asyncio.run(asyncio_tour(uri))
        tornado_tour(uri)
    say("Tour finished.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
