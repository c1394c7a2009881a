"""Serving GridFS files over HTTP with aiohttp: motor.aiohttp.AIOHTTPGridFS.

A real aiohttp server on a free port of 127.0.0.1 is hit by aiohttp's real HTTP client, through
the same scenarios as the Tornado handler in test_web.py. Each runs with both frameworks' Motor
databases.
"""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import aiohttp.web
import pytest
from bson import ObjectId
from pymongo import MongoClient

from motor.aiohttp import AIOHTTPGridFS
from test.test_web import (
    CACHE_TIME,
    CONTENT,
    CUSTOM_TYPE,
    SCENARIOS,
    Fetch,
    Files,
    Reply,
    bucket_name_for,
    drop_bucket,
    upload_files,
)


@pytest.fixture
def http_bucket_name(request: pytest.FixtureRequest, sync_client: MongoClient[Any]) -> Iterator[str]:
    """A bucket of the test's own, dropped before and after the test."""
    name = bucket_name_for(request)
    drop_bucket(sync_client, name)
    yield name
    drop_bucket(sync_client, name)


@pytest.fixture
def files(sync_client: MongoClient[Any], http_bucket_name: str) -> Files:
    return upload_files(sync_client, http_bucket_name)


def get_gridfs_file_by_id(bucket: Any, filename: str, request: aiohttp.web.Request) -> Any:
    return bucket.open_download_stream(ObjectId(filename))


def get_cache_time(filename: str, modified: datetime.datetime, mime_type: str) -> int:
    assert modified.tzinfo is not None and mime_type == CUSTOM_TYPE
    return CACHE_TIME


def set_extra_headers(response: aiohttp.web.StreamResponse, gridout: Any) -> None:
    response.headers["X-File-Id"] = str(gridout._id)


def get_content_type(filename: str, gridout: Any) -> str:
    return CUSTOM_TYPE


@pytest.fixture
async def aiohttp_server(db: Any, http_bucket_name: str) -> AsyncIterator[str]:
    """An aiohttp server of AIOHTTPGridFS on a free port; its base URL."""
    app = aiohttp.web.Application()
    app.router.add_get("/fs/{filename:.*}", AIOHTTPGridFS(db, http_bucket_name))
    custom = AIOHTTPGridFS(
        db,
        http_bucket_name,
        get_gridfs_file_by_id,
        get_cache_time,
        set_extra_headers,
        get_content_type=get_content_type,
    )
    app.router.add_get("/custom/{filename}", custom)
    runner = aiohttp.web.AppRunner(app)
    await runner.setup()
    site = aiohttp.web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}"
    await runner.cleanup()


@pytest.fixture
async def aiohttp_fetch(aiohttp_server: str) -> AsyncIterator[Fetch]:
    """An aiohttp client for the server."""
    async with aiohttp.ClientSession(auto_decompress=False) as session:

        async def fetch(method: str, path: str, headers: dict[str, str] | None = None) -> Reply:
            async with session.request(method, aiohttp_server + path, headers=headers) as response:
                return Reply(response.status, response.headers, await response.read())

        yield fetch


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda f: f.__name__.removeprefix("check_"))
async def test_aiohttp_gridfs(scenario: Any, aiohttp_fetch: Fetch, files: Files) -> None:
    await scenario(aiohttp_fetch, files)


async def test_multipart_read_by_aiohttp(aiohttp_server: str, files: Files) -> None:
    """aiohttp's own multipart reader understands the multipart/byteranges body."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(aiohttp_server + "/fs/data/file.txt", headers={"Range": "bytes=0-1,10-12"}) as response,
    ):
        assert response.status == 206
        reader = aiohttp.MultipartReader.from_response(response)
        parts = []
        while (part := await reader.next()) is not None:
            assert isinstance(part, aiohttp.BodyPartReader)
            parts.append((part.headers["Content-Range"], await part.read()))
    assert parts == [("bytes 0-1/1000", CONTENT[0:2]), ("bytes 10-12/1000", CONTENT[10:13])]


async def test_client_disconnect_mid_stream(aiohttp_server: str, files: Files) -> None:
    """A client that goes away during a download does not break the server."""
    async with aiohttp.ClientSession() as session:
        async with session.get(aiohttp_server + "/fs/big.bin") as response:
            assert response.status == 200
            await response.content.read(1000)
        # The connection was released unread; the next request works.
        async with session.get(aiohttp_server + "/fs/data/file.txt") as response:
            assert await response.read() == CONTENT


def test_needs_motor_database(db: Any) -> None:
    with pytest.raises(TypeError, match="Motor database"):
        AIOHTTPGridFS(db.delegate)
