"""Serving GridFS files over HTTP with Tornado: motor.web.GridFSHandler, and the HTTP logic it
shares with motor.aiohttp (motor._http).

A real Tornado server on a free port of 127.0.0.1 is hit by Tornado's real HTTP client. The
``check_*`` scenarios are shared with test_aiohttp_gridfs.py, which runs them against the aiohttp
handler: both handlers must behave alike. Each runs with both frameworks' Motor databases.
"""

from __future__ import annotations

import asyncio
import datetime
import email.utils
import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
import tornado.httpclient
import tornado.httpserver
import tornado.netutil
import tornado.web
from bson import ObjectId
from gridfs.synchronous.grid_file import GridFSBucket
from pymongo import MongoClient

from motor import _http
from motor.web import GridFSHandler
from test.support import DB_NAME

# ---------------------------------------------------------------------------------------------
# Shared scenarios
# ---------------------------------------------------------------------------------------------

CONTENT = bytes(i % 251 for i in range(1000))
LENGTH = len(CONTENT)
BIG = b"".join(hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(3 * 1024 * 1024 // 32))


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]  # Case-insensitive.
    body: bytes


#: ``await fetch(method, path, headers)``: one real HTTP request to the server under test.
Fetch = Callable[..., Awaitable[Reply]]


@dataclass(frozen=True)
class Files:
    """The files the scenarios serve."""

    data_id: ObjectId  # "data/file.txt": CONTENT in chunks of 64 bytes.
    upload_date: datetime.datetime


def bucket_name_for(request: pytest.FixtureRequest) -> str:
    return "web_" + "".join(c if c.isalnum() else "_" for c in request.node.name)[:60]


def drop_bucket(sync_client: MongoClient[Any], name: str) -> None:
    for suffix in ("files", "chunks"):
        sync_client[DB_NAME].drop_collection(f"{name}.{suffix}")


def upload_files(sync_client: MongoClient[Any], bucket_name: str) -> Files:
    """Store the files the scenarios serve in the bucket ``bucket_name``."""
    bucket = GridFSBucket(sync_client[DB_NAME], bucket_name)
    data_id = bucket.upload_from_stream("data/file.txt", CONTENT, chunk_size_bytes=64)
    bucket.upload_from_stream("picture.png", b"not really a png", metadata={"contentType": "image/x-custom"})
    bucket.upload_from_stream("noextension", b"?")
    bucket.upload_from_stream("archive.tar.gz", b"gz")
    bucket.upload_from_stream("empty.txt", b"")
    bucket.upload_from_stream("big.bin", BIG)
    document = sync_client[DB_NAME][f"{bucket_name}.files"].find_one({"_id": data_id})
    assert document is not None
    return Files(data_id, document["uploadDate"].replace(tzinfo=datetime.UTC))


# The fixtures are repeated in test_aiohttp_gridfs.py (a test module cannot share its fixtures).


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


def header_date(value: str) -> datetime.datetime:
    return email.utils.parsedate_to_datetime(value)


def http_date(value: datetime.datetime) -> str:
    return email.utils.format_datetime(value, usegmt=True)


async def check_full_get(fetch: Fetch, files: Files) -> None:
    reply = await fetch("GET", "/fs/data/file.txt")
    assert reply.status == 200
    assert reply.body == CONTENT
    assert reply.headers["Content-Length"] == str(LENGTH)
    assert reply.headers["Content-Type"].startswith("text/plain")
    assert reply.headers["Accept-Ranges"] == "bytes"
    assert reply.headers["Cache-Control"] == "public"
    assert reply.headers["ETag"].startswith('"') and reply.headers["ETag"].endswith('"')
    assert header_date(reply.headers["Last-Modified"]) == files.upload_date.replace(microsecond=0)
    again = await fetch("GET", "/fs/data/file.txt")
    assert again.headers["ETag"] == reply.headers["ETag"]


async def check_big_file(fetch: Fetch, files: Files) -> None:
    reply = await fetch("GET", "/fs/big.bin")
    assert reply.status == 200
    assert reply.headers["Content-Length"] == str(len(BIG))
    assert hashlib.sha256(reply.body).digest() == hashlib.sha256(BIG).digest()
    reply = await fetch("GET", "/fs/big.bin", {"Range": "bytes=261000-1000000"})
    assert reply.status == 206
    assert reply.body == BIG[261000:1000001]


async def check_head(fetch: Fetch, files: Files) -> None:
    get = await fetch("GET", "/fs/data/file.txt")
    head = await fetch("HEAD", "/fs/data/file.txt")
    assert head.status == 200
    assert head.body == b""
    assert head.headers["Content-Length"] == str(LENGTH)
    for name in ("Content-Type", "ETag", "Last-Modified", "Accept-Ranges"):
        assert head.headers[name] == get.headers[name], name
    assert (await fetch("HEAD", "/fs/missing")).status == 404


async def check_not_modified_by_etag(fetch: Fetch, files: Files) -> None:
    etag = (await fetch("GET", "/fs/data/file.txt")).headers["ETag"]
    for value in (etag, f'"other", {etag}', f"W/{etag}", "*"):
        reply = await fetch("GET", "/fs/data/file.txt", {"If-None-Match": value})
        assert reply.status == 304, value
        assert reply.body == b""
        assert reply.headers["ETag"] == etag
    assert (await fetch("HEAD", "/fs/data/file.txt", {"If-None-Match": etag})).status == 304
    for value in ('"other"', "garbage", 'W/"x", "y"'):
        reply = await fetch("GET", "/fs/data/file.txt", {"If-None-Match": value})
        assert reply.status == 200, value
        assert reply.body == CONTENT


async def check_not_modified_by_date(fetch: Fetch, files: Files) -> None:
    modified = files.upload_date.replace(microsecond=0)
    for when in (modified, modified + datetime.timedelta(days=1)):
        reply = await fetch("GET", "/fs/data/file.txt", {"If-Modified-Since": http_date(when)})
        assert reply.status == 304, when
        assert reply.body == b""
    for value in (http_date(modified - datetime.timedelta(seconds=1)), "not a date"):
        reply = await fetch("GET", "/fs/data/file.txt", {"If-Modified-Since": value})
        assert reply.status == 200, value
        assert reply.body == CONTENT
    # If-None-Match wins over If-Modified-Since.
    reply = await fetch(
        "GET", "/fs/data/file.txt", {"If-None-Match": '"other"', "If-Modified-Since": http_date(modified)}
    )
    assert reply.status == 200


async def check_not_found(fetch: Fetch, files: Files) -> None:
    assert (await fetch("GET", "/fs/missing.txt")).status == 404
    assert (await fetch("GET", "/fs/data/file.txt/more")).status == 404


async def check_single_ranges(fetch: Fetch, files: Files) -> None:
    cases = {
        "bytes=10-19": (10, 19),  # Inside a chunk.
        "bytes=60-200": (60, 200),  # Across chunks.
        "bytes=990-": (990, 999),  # Open-ended.
        "bytes=-5": (995, 999),  # Suffix.
        "bytes=-5000": (0, 999),  # Suffix longer than the file.
        "bytes=995-2000": (995, 999),  # Past the end.
        "bytes=0-0": (0, 0),
        "BYTES = 7 - 8 ": (7, 8),  # Unit case and whitespace.
        "bytes=5000-6000, 3-4": (3, 4),  # One satisfiable range among others.
    }
    for header, (first, last) in cases.items():
        reply = await fetch("GET", "/fs/data/file.txt", {"Range": header})
        assert reply.status == 206, header
        assert reply.body == CONTENT[first : last + 1], header
        assert reply.headers["Content-Range"] == f"bytes {first}-{last}/{LENGTH}", header
        assert reply.headers["Content-Length"] == str(last - first + 1), header
        assert reply.headers["Content-Type"].startswith("text/plain")
    head = await fetch("HEAD", "/fs/data/file.txt", {"Range": "bytes=10-19"})
    assert head.status == 206
    assert head.body == b""
    assert head.headers["Content-Length"] == "10"


def parse_byteranges(reply: Reply) -> list[tuple[str, str, bytes]]:
    """The parts of a multipart/byteranges body: (Content-Type, Content-Range, data)."""
    content_type = reply.headers["Content-Type"]
    assert content_type.startswith("multipart/byteranges; boundary=")
    boundary = content_type.partition("boundary=")[2].encode()
    closing = b"--" + boundary + b"--\r\n"
    assert reply.body.endswith(closing)
    pieces = reply.body[: -len(closing)].split(b"--" + boundary + b"\r\n")
    assert pieces[0] == b""
    parts = []
    for piece in pieces[1:]:
        head, _, rest = piece.partition(b"\r\n\r\n")
        assert rest.endswith(b"\r\n")
        headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n"))
        parts.append((headers["Content-Type"], headers["Content-Range"], rest[:-2]))
    return parts


async def check_multiple_ranges(fetch: Fetch, files: Files) -> None:
    reply = await fetch("GET", "/fs/data/file.txt", {"Range": "bytes=100-109, 0-4,-3"})
    assert reply.status == 206
    assert "Content-Range" not in reply.headers
    assert reply.headers["Content-Length"] == str(len(reply.body))
    parts = parse_byteranges(reply)
    assert [(r, d) for _, r, d in parts] == [
        ("bytes 0-4/1000", CONTENT[0:5]),
        ("bytes 100-109/1000", CONTENT[100:110]),
        ("bytes 997-999/1000", CONTENT[997:1000]),
    ]
    assert all(t.startswith("text/plain") for t, _, _ in parts)
    head = await fetch("HEAD", "/fs/data/file.txt", {"Range": "bytes=100-109, 0-4,-3"})
    assert head.status == 206
    assert head.body == b""
    assert head.headers["Content-Type"].startswith("multipart/byteranges")
    # Overlapping and adjacent ranges are merged: one range is sent as a single part.
    reply = await fetch("GET", "/fs/data/file.txt", {"Range": "bytes=0-10,5-20,21-30"})
    assert reply.status == 206
    assert reply.headers["Content-Range"] == "bytes 0-30/1000"
    assert reply.body == CONTENT[:31]


async def check_unsatisfiable(fetch: Fetch, files: Files) -> None:
    for header in ("bytes=1000-", "bytes=5000-6000", "bytes=-0", "bytes=1000-1001,2000-"):
        reply = await fetch("GET", "/fs/data/file.txt", {"Range": header})
        assert reply.status == 416, header
        assert reply.headers["Content-Range"] == f"bytes */{LENGTH}", header
        assert reply.body == b""
    reply = await fetch("GET", "/fs/empty.txt", {"Range": "bytes=0-"})
    assert reply.status == 416
    assert reply.headers["Content-Range"] == "bytes */0"


async def check_malformed_range_ignored(fetch: Fetch, files: Files) -> None:
    for header in (
        "bytes=abc",
        "bytes=5-1",
        "items=0-1",
        "bytes=",
        "bytes",
        "bytes=1-2-3",
        "bytes=--1",
        "bytes=-",
        "bytes=0-1,x",
        "bytes=\xb2-\xb3",  # Superscript digits.
        "bytes=" + ",".join(f"{i * 10}-{i * 10}" for i in range(_http.MAX_RANGES + 1)),  # Too many.
    ):
        reply = await fetch("GET", "/fs/data/file.txt", {"Range": header})
        assert reply.status == 200, header
        assert reply.body == CONTENT, header
        assert "Content-Range" not in reply.headers


async def check_if_range(fetch: Fetch, files: Files) -> None:
    full = await fetch("GET", "/fs/data/file.txt")
    etag, last_modified = full.headers["ETag"], full.headers["Last-Modified"]
    for value, status in ((etag, 206), ('"other"', 200), (f"W/{etag}", 200), (last_modified, 206)):
        reply = await fetch("GET", "/fs/data/file.txt", {"Range": "bytes=0-9", "If-Range": value})
        assert reply.status == status, value
        assert reply.body == (CONTENT[:10] if status == 206 else CONTENT)
    earlier = http_date(files.upload_date - datetime.timedelta(days=1))
    reply = await fetch("GET", "/fs/data/file.txt", {"Range": "bytes=0-9", "If-Range": earlier})
    assert reply.status == 200


async def check_content_types(fetch: Fetch, files: Files) -> None:
    expected = {
        "/fs/picture.png": "image/x-custom",  # From metadata.contentType.
        "/fs/noextension": "application/octet-stream",
        "/fs/archive.tar.gz": "application/gzip",
        "/fs/empty.txt": "text/plain",
    }
    for path, content_type in expected.items():
        reply = await fetch("GET", path)
        assert reply.status == 200, path
        assert reply.headers["Content-Type"].split(";")[0] == content_type, path
    empty = await fetch("GET", "/fs/empty.txt")
    assert empty.body == b""
    assert empty.headers["Content-Length"] == "0"


async def check_hooks(fetch: Fetch, files: Files) -> None:
    """``/custom/<_id>`` is served by a handler whose hooks choose the file by _id, cache it for an
    hour, add ``X-File-Id`` and set the content type."""
    reply = await fetch("GET", f"/custom/{files.data_id}")
    assert reply.status == 200
    assert reply.body == CONTENT
    assert reply.headers["Cache-Control"] == "max-age=3600"
    expires = header_date(reply.headers["Expires"])
    now = datetime.datetime.now(datetime.UTC)
    assert now + datetime.timedelta(minutes=50) < expires < now + datetime.timedelta(minutes=70)
    assert reply.headers["X-File-Id"] == str(files.data_id)
    assert reply.headers["Content-Type"].startswith("application/x-motor-test")
    ranged = await fetch("GET", f"/custom/{files.data_id}", {"Range": "bytes=1-2"})
    assert ranged.status == 206
    assert ranged.body == CONTENT[1:3]
    not_modified = await fetch("GET", f"/custom/{files.data_id}", {"If-None-Match": reply.headers["ETag"]})
    assert not_modified.status == 304
    assert not_modified.headers["X-File-Id"] == str(files.data_id)
    assert (await fetch("GET", f"/custom/{ObjectId()}")).status == 404


SCENARIOS = [
    check_full_get,
    check_big_file,
    check_head,
    check_not_modified_by_etag,
    check_not_modified_by_date,
    check_not_found,
    check_single_ranges,
    check_multiple_ranges,
    check_unsatisfiable,
    check_malformed_range_ignored,
    check_if_range,
    check_content_types,
    check_hooks,
]

CACHE_TIME = 3600
CUSTOM_TYPE = "application/x-motor-test"


# ---------------------------------------------------------------------------------------------
# Tornado
# ---------------------------------------------------------------------------------------------


class CustomHandler(GridFSHandler):
    """Every hook overridden."""

    def get_gridfs_file(self, bucket: Any, filename: str, request: Any) -> Any:
        return bucket.open_download_stream(ObjectId(filename))

    def get_cache_time(self, path: str, modified: datetime.datetime, mime_type: str) -> int:
        assert modified.tzinfo is not None and mime_type == CUSTOM_TYPE
        return CACHE_TIME

    def set_extra_headers(self, path: str, gridout: Any) -> None:
        self.set_header("X-File-Id", str(gridout._id))

    def get_content_type(self, path: str, gridout: Any) -> str:
        return CUSTOM_TYPE


@pytest.fixture
async def tornado_fetch(db: Any, http_bucket_name: str) -> AsyncIterator[Fetch]:
    """A Tornado server of GridFSHandler on a free port, and a Tornado client for it."""
    options = {"database": db, "root_collection": http_bucket_name}
    app = tornado.web.Application(
        [(r"/fs/(.*)", GridFSHandler, options), (r"/custom/(.*)", CustomHandler, options)]
    )
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
    port = sockets[0].getsockname()[1]
    server = tornado.httpserver.HTTPServer(app)
    server.add_sockets(sockets)
    http_client = tornado.httpclient.AsyncHTTPClient(force_instance=True)

    async def fetch(method: str, path: str, headers: dict[str, str] | None = None) -> Reply:
        response = await http_client.fetch(
            f"http://127.0.0.1:{port}{path}",
            method=method,
            headers=headers,
            raise_error=False,
            decompress_response=False,
            request_timeout=60,
        )
        return Reply(response.code, response.headers, response.body or b"")

    fetch.port = port  # type: ignore[attr-defined]
    yield fetch
    http_client.close()
    server.stop()
    await server.close_all_connections()


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda f: f.__name__.removeprefix("check_"))
async def test_tornado_gridfs_handler(scenario: Any, tornado_fetch: Fetch, files: Files) -> None:
    await scenario(tornado_fetch, files)


async def test_tornado_client_disconnect_mid_stream(
    tornado_fetch: Fetch, files: Files, caplog: pytest.LogCaptureFixture
) -> None:
    port = tornado_fetch.port  # type: ignore[attr-defined]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /fs/big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n")
    await writer.drain()
    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
    await reader.readexactly(100_000)
    writer.close()  # Gone, with most of the file unsent.
    await writer.wait_closed()
    reply = await tornado_fetch("GET", "/fs/data/file.txt")
    assert reply.body == CONTENT
    await asyncio.sleep(0.2)  # Let the server notice.
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


def test_handler_needs_motor_database(db: Any) -> None:
    handler = GridFSHandler.__new__(GridFSHandler)  # initialize() alone: no request needed.
    with pytest.raises(TypeError, match="Motor database"):
        handler.initialize(db.delegate)
    handler.initialize(db, "bucket")
    assert handler.database is db and handler.root_collection == "bucket"


# ---------------------------------------------------------------------------------------------
# The shared HTTP logic, without a server
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "length", "expected"),
    [
        (None, 10, None),
        ("bytes=0-4", 10, [(0, 4)]),
        ("bytes=5-", 10, [(5, 9)]),
        ("bytes=-3", 10, [(7, 9)]),
        ("bytes=-30", 10, [(0, 9)]),
        ("bytes=8-100", 10, [(8, 9)]),
        ("bytes=0-1,3-4", 10, [(0, 1), (3, 4)]),
        ("bytes=3-4,0-1", 10, [(0, 1), (3, 4)]),
        ("bytes=0-4,2-6", 10, [(0, 6)]),
        ("bytes=0-4,5-6", 10, [(0, 6)]),
        ("bytes=0-1,,3-4,", 10, [(0, 1), (3, 4)]),  # Empty list elements are ignored.
        ("bytes=10-", 10, []),
        ("bytes=-0", 10, []),
        ("bytes=0-", 0, []),
        ("bytes=-1", 0, []),
        ("bytes=99999999999999999999999999-", 10, []),
        ("bytes=0-99999999999999999999999999", 10, [(0, 9)]),
        ("bytes=4-3", 10, None),
        ("bytes=a-3", 10, None),
        ("bytes=+1-3", 10, None),
        ("bytes=0x1-3", 10, None),
        ("chunks=0-3", 10, None),
        ("bytes=,", 10, None),
        ("bytes 0-3", 10, None),
        ("bytes=\u0661-\u0662", 10, None),  # Digits, but not ASCII ones.
    ],
)
def test_parse_range(header: str | None, length: int, expected: list[tuple[int, int]] | None) -> None:
    assert _http.parse_range(header, length) == expected


def test_parse_range_limits_the_number_of_ranges() -> None:
    many = "bytes=" + ",".join(f"{i * 2}-{i * 2}" for i in range(_http.MAX_RANGES))
    assert len(_http.parse_range(many, 1000) or []) == _http.MAX_RANGES
    assert _http.parse_range(many + ",999-999", 1000) is None


def test_etag() -> None:
    upload = datetime.datetime(2024, 5, 6, 7, 8, 9, 123000)
    document = {"_id": ObjectId(), "length": 3, "uploadDate": upload, "filename": "x"}
    etag = _http.compute_etag(document)
    # Motor 3's scheme, so that caches survive the upgrade.
    motor3 = hashlib.sha256(f"{document['_id']}3{upload}".encode()).hexdigest()
    assert etag == f'"{motor3}"'
    assert _http.compute_etag({**document, "length": 4}) != etag
    assert _http.compute_etag({**document, "_id": ObjectId()}) != etag
    assert _http.compute_etag({**document, "md5": "d41d8cd98f00b204e9800998ecf8427e"}) == etag


def test_representation_and_cache_headers() -> None:
    upload = datetime.datetime(2024, 5, 6, 7, 8, 9, 123000)
    rep = _http.representation({"_id": 1, "length": 3, "uploadDate": upload, "filename": "a.html"})
    assert rep.content_type == "text/html"
    assert rep.last_modified == datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.UTC)
    now = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    headers = dict(rep.headers(60, now))
    assert headers["Last-Modified"] == "Mon, 06 May 2024 07:08:09 GMT"
    assert headers["Expires"] == "Mon, 01 Jan 2024 00:01:00 GMT"
    assert headers["Cache-Control"] == "max-age=60"
    assert dict(rep.headers(0))["Cache-Control"] == "public"
    assert (
        _http.representation({"length": 0, "filename": "x"}, "text/x-chosen").content_type == "text/x-chosen"
    )


def test_plan_multipart_length_is_exact() -> None:
    rep = _http.representation({"_id": 1, "length": 100, "filename": "a.txt"})
    plan = _http.plan_response({"Range": "bytes=0-9,50-59"}, rep, boundary="B")
    assert plan.status == 206
    head = b"--B\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-9/100\r\n\r\n"
    assert plan.parts[0].head == head
    expected_length = sum(len(p.head) + len(p.tail) for p in plan.parts) + 20
    assert dict(plan.headers)["Content-Length"] == str(expected_length)
