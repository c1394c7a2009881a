"""Serving GridFS files with aiohttp.

::

    db = motor.motor_asyncio.AsyncIOMotorClient().my_database
    gridfs_handler = motor.aiohttp.AIOHTTPGridFS(db)
    app = aiohttp.web.Application()
    app.router.add_get("/fs/{filename}", gridfs_handler)

``GET /fs/name.png`` serves the latest revision of the GridFS file named ``name.png`` (``HEAD``
too: aiohttp routes it to the same handler), with ``Content-Type``, ``Content-Length``, ``ETag``,
``Last-Modified``, conditional requests (304 Not Modified) and range requests (206 Partial Content,
several ranges as ``multipart/byteranges``, 416). The body is streamed one chunk at a time. The
route must name the file ``{filename}``; use ``{filename:.*}`` to allow slashes.
"""

from __future__ import annotations

import asyncio
import datetime
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp.web
from gridfs.errors import NoFile

from motor import _http
from motor.core import AgnosticDatabase
from motor.metaprogramming import framework_class
from motor.motor_gridfs import AgnosticGridFSBucket, AgnosticGridOut

__all__ = ["AIOHTTPGridFS", "get_cache_time", "get_content_type", "get_gridfs_file", "set_extra_headers"]


def get_gridfs_file(
    bucket: AgnosticGridFSBucket, filename: str, request: aiohttp.web.Request
) -> Awaitable[AgnosticGridOut]:
    """Return an awaitable of the file to serve for ``filename``: by default its latest revision.

    Pass your own to :class:`AIOHTTPGridFS` to choose another way, for example by ``_id``::

        def get_gridfs_file(bucket, filename, request):
            return bucket.open_download_stream(ObjectId(filename))

    The awaitable raises :exc:`gridfs.errors.NoFile` for a missing file (404).
    """
    return bucket.open_download_stream_by_name(filename)  # type: ignore[no-any-return]


def get_cache_time(filename: str, modified: datetime.datetime, mime_type: str) -> int:
    """Return how long (seconds) clients may cache the file without asking again.

    By default 0: ``Cache-Control: public``, so caches revalidate with ``If-None-Match`` or
    ``If-Modified-Since``. A positive number sets ``Expires`` and ``Cache-Control: max-age``.
    """
    return 0


def set_extra_headers(response: aiohttp.web.StreamResponse, gridout: AgnosticGridOut) -> None:
    """Set headers of your own on ``response`` (called for every found file)."""


def get_content_type(filename: str, gridout: AgnosticGridOut) -> str:
    """Return the ``Content-Type`` to serve: by default ``metadata.contentType``, else the file
    document's ``contentType``, else guessed from the file name, else ``application/octet-stream``."""
    return _http.default_content_type(gridout._check_open("content type"), gridout.filename or filename)


def _mark_coroutine_function(handler: object) -> None:
    """Make aiohttp see ``handler`` (an object with an ``async def __call__``) as a coroutine
    function: aiohttp wraps anything else as a deprecated "bare function", with a warning."""
    mark = getattr(inspect, "markcoroutinefunction", None)  # Python 3.12+
    if mark is not None:
        mark(handler)
    else:
        handler._is_coroutine = asyncio.coroutines._is_coroutine  # type: ignore[attr-defined]


class AIOHTTPGridFS:
    """An aiohttp handler that serves files from a GridFS bucket, by name.

    :param database: a Motor database (``AsyncIOMotorDatabase``).
    :param root_collection: the bucket's name.
    :param get_gridfs_file: ``(bucket, filename, request)`` → awaitable of the GridOut to serve.
    :param get_cache_time: ``(filename, modified, mime_type)`` → seconds clients may cache it.
    :param set_extra_headers: ``(response, gridout)``: set headers of your own.
    :param get_content_type: ``(filename, gridout)`` → the ``Content-Type`` to serve.
    :raises TypeError: if ``database`` is not a Motor database.
    """

    def __init__(
        self,
        database: AgnosticDatabase,
        root_collection: str = "fs",
        get_gridfs_file: Callable[
            [AgnosticGridFSBucket, str, aiohttp.web.Request], Awaitable[AgnosticGridOut]
        ] = get_gridfs_file,
        get_cache_time: Callable[[str, datetime.datetime, str], int] = get_cache_time,
        set_extra_headers: Callable[[aiohttp.web.StreamResponse, AgnosticGridOut], None] = set_extra_headers,
        *,
        get_content_type: Callable[[str, AgnosticGridOut], str] = get_content_type,
    ) -> None:
        if not isinstance(database, AgnosticDatabase):
            raise TypeError(f"AIOHTTPGridFS needs a Motor database, not {database!r}")
        self._database = database
        self._bucket_name = root_collection
        self._get_gridfs_file = get_gridfs_file
        self._get_cache_time = get_cache_time
        self._set_extra_headers = set_extra_headers
        self._get_content_type = get_content_type
        _mark_coroutine_function(self)

    def _bucket(self) -> AgnosticGridFSBucket:
        bucket_class: Any = framework_class(self._database, AgnosticGridFSBucket)
        return bucket_class(self._database, self._bucket_name)  # type: ignore[no-any-return]

    async def __call__(self, request: aiohttp.web.Request) -> aiohttp.web.StreamResponse:
        filename = request.match_info["filename"]
        try:
            gridout = await self._get_gridfs_file(self._bucket(), filename, request)
            await gridout.open()
        except NoFile:
            raise aiohttp.web.HTTPNotFound(text=request.path) from None
        async with gridout:
            rep = _http.representation(
                gridout._check_open("file document"), self._get_content_type(filename, gridout)
            )
            response = aiohttp.web.StreamResponse()
            cache_time = self._get_cache_time(filename, rep.last_modified, rep.content_type)
            for name, value in rep.headers(cache_time):
                response.headers[name] = value
            self._set_extra_headers(response, gridout)
            plan = _http.plan_response(request.headers, rep)
            response.set_status(plan.status)
            for name, value in plan.headers:
                response.headers[name] = value
            if plan.status == 304:
                for name in ("Content-Type", "Content-Length"):
                    response.headers.popall(name, None)
                return response
            await response.prepare(request)
            if request.method != "HEAD" and plan.parts:
                await _http.send_body(gridout, plan, response.write)
            await response.write_eof()
            return response
