"""Tests of the FastAPI example, with Motor's pytest plugin and httpx's ASGI transport.

``motor_db`` (from the plugin) is a database of this test's own, dropped afterwards; the
application runs its lifespan against it, and the tests talk to it in-process through
``httpx.ASGITransport``. The tests run on anyio's pytest plugin (installed with FastAPI), as
FastAPI's documentation suggests; pytest-asyncio, if installed, leaves them alone in its default
strict mode.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import pytest
from app import create_app
from fastapi import FastAPI

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    # Motor runs on asyncio.
    return "asyncio"


@pytest.fixture
async def app(motor_test_uri: str, motor_db: Any) -> AsyncIterator[FastAPI]:
    """The application on the test's database, its lifespan started (httpx does not run it)."""
    application = create_app(motor_test_uri, motor_db.name)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


# ---------------------------------------------------------------------------------------------
# CRUD
# ---------------------------------------------------------------------------------------------


async def test_create_read_list(http: httpx.AsyncClient, motor_db: Any) -> None:
    response = await http.post("/items", json={"name": "pear", "price": 1.5, "tags": ["fruit"]})
    assert response.status_code == 201
    created = response.json()
    assert created == {"id": created["id"], "name": "pear", "price": 1.5, "tags": ["fruit"]}
    assert await motor_db.items.count_documents({}) == 1

    await http.post("/items", json={"name": "apple", "price": 2})
    response = await http.get(f"/items/{created['id']}")
    assert response.status_code == 200
    assert response.json() == created
    assert [item["name"] for item in (await http.get("/items")).json()] == ["apple", "pear"]
    assert [item["name"] for item in (await http.get("/items", params={"tag": "fruit"})).json()] == ["pear"]


async def test_replace_and_delete(http: httpx.AsyncClient, motor_db: Any) -> None:
    item_id = (await http.post("/items", json={"name": "fig", "price": 3})).json()["id"]
    response = await http.put(f"/items/{item_id}", json={"name": "fig", "price": 4, "tags": ["dried"]})
    assert response.status_code == 200
    stored = await motor_db.items.find_one({})
    assert (stored["price"], stored["tags"]) == (4, ["dried"])

    assert (await http.delete(f"/items/{item_id}")).status_code == 204
    assert await motor_db.items.count_documents({}) == 0
    assert (await http.delete(f"/items/{item_id}")).status_code == 404


async def test_missing_invalid_and_refused(http: httpx.AsyncClient) -> None:
    assert (await http.get("/items/0123456789abcdef01234567")).status_code == 404
    assert (await http.get("/items/not-an-id")).status_code == 404
    assert (await http.put("/items/not-an-id", json={"name": "x", "price": 1})).status_code == 404
    response = await http.post("/items", json={"name": "", "price": -1})
    assert response.status_code == 422
    assert {error["loc"][-1] for error in response.json()["detail"]} == {"name", "price"}


# ---------------------------------------------------------------------------------------------
# Server-sent events from a change stream
# ---------------------------------------------------------------------------------------------


@asynccontextmanager
async def event_stream(
    app: FastAPI, path: str, headers: dict[str, str] | None = None
) -> AsyncIterator[tuple[dict[str, Any], Callable[[], Any]]]:
    """GET ``path`` from the application, as a client that reads events as they come, then leaves.

    Yields the ``http.response.start`` message and a function that returns the next event's
    fields. httpx's ASGI transport returns a response only once the body is complete, which an
    event stream never is, so this speaks ASGI to the application directly.
    """
    sender, received = anyio.create_memory_object_stream[dict[str, Any]](100)
    gone = anyio.Event()
    request_sent = False

    async def receive() -> dict[str, Any]:
        nonlocal request_sent
        if not request_sent:
            request_sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"test")]
        + [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "client": ("127.0.0.1", 50000),
        "server": ("test", 80),
    }
    buffer = ""

    async def next_event() -> dict[str, str]:
        nonlocal buffer
        with anyio.fail_after(10):
            while "\n\n" not in buffer:
                message = await received.receive()
                buffer += message.get("body", b"").decode()
        text, buffer = buffer.split("\n\n", 1)
        return dict(line.split(": ", 1) for line in text.splitlines())

    async with anyio.create_task_group() as tasks, sender, received:
        tasks.start_soon(app, scope, receive, sender.send)
        with anyio.fail_after(10):
            start = await received.receive()
        yield start, next_event
        gone.set()


async def test_change_events(app: FastAPI, http: httpx.AsyncClient) -> None:
    async with event_stream(app, "/items/events") as (start, next_event):
        assert start["status"] == 200
        assert (b"content-type", b"text/event-stream; charset=utf-8") in start["headers"]
        # The stream is open once the headers are sent: nothing done from now on is missed.
        item = (await http.post("/items", json={"name": "kiwi", "price": 1})).json()
        await http.put(f"/items/{item['id']}", json={"name": "kiwi", "price": 2})
        await http.delete(f"/items/{item['id']}")
        events = [await next_event() for _ in range(3)]
    assert [e["event"] for e in events] == ["change"] * 3
    data = [json.loads(e["data"]) for e in events]
    assert [d["operation"] for d in data] == ["insert", "replace", "delete"]
    assert {d["id"] for d in data} == {item["id"]}
    assert [d["item"] and d["item"]["price"] for d in data] == [1, 2, None]

    # A client that reconnects with the last id it saw gets what happened since, and only that.
    await http.post("/items", json={"name": "lime", "price": 1})
    async with event_stream(app, "/items/events", {"Last-Event-ID": events[1]["id"]}) as (_, next_event):
        replayed = [json.loads((await next_event())["data"])["operation"] for _ in range(2)]
    assert replayed == ["delete", "insert"]


async def test_change_events_bad_resume_token(http: httpx.AsyncClient) -> None:
    response = await http.get("/items/events", headers={"Last-Event-ID": "not-a-token"})
    assert response.status_code == 400


# ---------------------------------------------------------------------------------------------
# GridFS downloads with Range
# ---------------------------------------------------------------------------------------------

# Four GridFS chunks (255 KiB each) and a bit: ranges cross chunk boundaries.
DATA = bytes(range(256)) * 4100


@pytest.fixture
async def file_id(http: httpx.AsyncClient) -> str:
    response = await http.put("/files/data.bin", content=DATA, headers={"Content-Type": "application/x-test"})
    assert response.status_code == 201
    return str(response.json()["id"])


async def test_download_whole_file(http: httpx.AsyncClient, file_id: str) -> None:
    response = await http.get(f"/files/{file_id}")
    assert response.status_code == 200
    assert response.content == DATA
    assert response.headers["content-type"] == "application/x-test"
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["content-length"] == str(len(DATA))


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-0", 0, 0),
        ("bytes=100-199", 100, 199),
        ("bytes=261000-523000", 261000, 523000),  # Across two chunk boundaries.
        ("bytes=1000000-", 1000000, len(DATA) - 1),
        ("bytes=-10", len(DATA) - 10, len(DATA) - 1),
        ("bytes=5-99999999", 5, len(DATA) - 1),
    ],
)
async def test_download_range(
    http: httpx.AsyncClient, file_id: str, header: str, first: int, last: int
) -> None:
    response = await http.get(f"/files/{file_id}", headers={"Range": header})
    assert response.status_code == 206
    assert response.content == DATA[first : last + 1]
    assert response.headers["content-range"] == f"bytes {first}-{last}/{len(DATA)}"
    assert response.headers["content-length"] == str(last - first + 1)


async def test_download_unsatisfiable_or_ignored_range(http: httpx.AsyncClient, file_id: str) -> None:
    response = await http.get(f"/files/{file_id}", headers={"Range": f"bytes={len(DATA)}-"})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{len(DATA)}"
    # Several ranges, or a unit other than bytes: the whole file, as HTTP allows.
    for header in ("bytes=0-1,5-6", "items=0-1"):
        response = await http.get(f"/files/{file_id}", headers={"Range": header})
        assert (response.status_code, len(response.content)) == (200, len(DATA))


async def test_download_missing(http: httpx.AsyncClient) -> None:
    assert (await http.get("/files/0123456789abcdef01234567")).status_code == 404
