"""An application's tests with Motor's pytest plugin: ``pip install 'motor[testing]' pytest-asyncio``,
then ``pytest`` in this directory. pytest-asyncio's default (strict) mode needs the
``asyncio`` marker on each test; nothing else is configured.
"""

from typing import Any

import pytest
from pymongo.errors import OperationFailure


# The application code under test.
async def add_order(db: Any, sku: str, quantity: int) -> None:
    await db.orders.insert_one({"sku": sku, "quantity": quantity})


async def total_quantity(db: Any, sku: str) -> int:
    pipeline = [{"$match": {"sku": sku}}, {"$group": {"_id": None, "total": {"$sum": "$quantity"}}}]
    async for row in db.orders.aggregate(pipeline):
        return int(row["total"])
    return 0


# Each test gets a database of its own, dropped afterwards.
@pytest.mark.asyncio
async def test_total_quantity(motor_db: Any) -> None:
    await add_order(motor_db, "apple", 3)
    await add_order(motor_db, "apple", 2)
    await add_order(motor_db, "pear", 1)
    assert await total_quantity(motor_db, "apple") == 5


@pytest.mark.asyncio
async def test_starts_empty(motor_db: Any) -> None:
    assert await total_quantity(motor_db, "apple") == 0


# The same with the Tornado classes.
@pytest.mark.asyncio
async def test_with_tornado_classes(motor_tornado_db: Any) -> None:
    await add_order(motor_tornado_db, "fig", 4)
    assert await total_quantity(motor_tornado_db, "fig") == 4


# A fail point is server-wide state: this test gets a server of its own, so that no other test
# (nor another process on the shared server) sees its failures.
@pytest.mark.asyncio
@pytest.mark.motor_own_server
async def test_refused_insert(motor_client: Any, motor_db: Any) -> None:
    await motor_client.admin.command(
        "configureFailPoint",
        "failCommand",
        mode={"times": 1},
        data={"failCommands": ["insert"], "errorCode": 2},
    )
    with pytest.raises(OperationFailure):
        await add_order(motor_db, "apple", 1)
    await add_order(motor_db, "apple", 1)
    assert await total_quantity(motor_db, "apple") == 1
