"""The document type flows from the client to collections, cursors and results, as in PyMongo.

Each line that mypy must reject ends with ``# E: <error code>``.
"""

from __future__ import annotations

from typing import TypedDict

from pymongo.results import InsertManyResult

from motor.motor_asyncio import AsyncIOMotorClient


class Movie(TypedDict):
    name: str
    year: int


async def documents() -> None:
    client: AsyncIOMotorClient[Movie] = AsyncIOMotorClient()
    movies = client.cinema.movies
    await movies.insert_one({"name": "Jaws", "year": "1975"})  # E: arg-type
    movie = await movies.find_one()
    print(movie["name"])  # E: index
    async for m in movies.find():
        print(m["title"])  # E: typeddict-item
    result: InsertManyResult = await movies.insert_one(Movie(name="Jaws", year=1975))  # E: assignment
    print(result)
