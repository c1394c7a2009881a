"""A first end-to-end check that both frameworks reach the server."""

from typing import Any


async def test_insert_and_find(coll: Any) -> None:
    result = await coll.insert_one({"x": 1})
    found = await coll.find_one({"_id": result.inserted_id})
    assert found == {"_id": result.inserted_id, "x": 1}
