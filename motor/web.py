"""Serving GridFS files with Tornado.

::

    db = motor.motor_tornado.MotorClient().my_database
    application = tornado.web.Application([
        (r"/static/(.*)", motor.web.GridFSHandler, {"database": db}),
    ])

``GET /static/some/name.png`` serves the latest revision of the GridFS file named
``some/name.png``, with ``Content-Type``, ``Content-Length``, ``ETag``, ``Last-Modified``,
conditional requests (304 Not Modified) and range requests (206 Partial Content, several ranges as
``multipart/byteranges``, 416). The body is streamed one chunk at a time. Subclass the handler to
choose the file, the media type, the cache time or extra headers.
"""

from __future__ import annotations

import datetime
from collections.abc import Awaitable
from typing import Any

import tornado.iostream
import tornado.web
from gridfs.errors import NoFile
from tornado.httputil import HTTPServerRequest

from motor import _http
from motor.core import AgnosticDatabase
from motor.metaprogramming import framework_class
from motor.motor_gridfs import AgnosticGridFSBucket, AgnosticGridOut

__all__ = ["GridFSHandler"]


class GridFSHandler(tornado.web.RequestHandler):
    """A handler that serves files from a GridFS bucket, by name.

    :param database: a Motor database (``MotorDatabase`` or ``AsyncIOMotorDatabase``).
    :param root_collection: the bucket's name.
    """

    database: AgnosticDatabase
    root_collection: str

    def initialize(self, database: AgnosticDatabase, root_collection: str = "fs") -> None:
        if not isinstance(database, AgnosticDatabase):
            raise TypeError(f"GridFSHandler needs a Motor database, not {database!r}")
        self.database = database
        self.root_collection = root_collection

    # Hooks.

    def get_gridfs_file(
        self, bucket: AgnosticGridFSBucket, filename: str, request: HTTPServerRequest
    ) -> Awaitable[AgnosticGridOut]:
        """Return an awaitable of the file to serve for ``filename`` (the URL's path argument).

        By default the latest revision of the file named ``filename``. Override to choose another
        way, for example by ``_id``::

            def get_gridfs_file(self, bucket, filename, request):
                return bucket.open_download_stream(ObjectId(filename))

        The awaitable raises :exc:`gridfs.errors.NoFile` for a missing file (404). The GridOut
        it returns is opened if it is not yet.
        """
        return bucket.open_download_stream_by_name(filename)  # type: ignore[no-any-return]

    def get_content_type(self, path: str, gridout: AgnosticGridOut) -> str:
        """Return the ``Content-Type`` to serve: by default ``metadata.contentType``, else the
        file document's ``contentType``, else guessed from the file name, else
        ``application/octet-stream``."""
        return _http.default_content_type(gridout._check_open("content type"), gridout.filename or path)

    def get_cache_time(self, path: str, modified: datetime.datetime, mime_type: str) -> int:
        """Return how long (seconds) clients may cache the file without asking again.

        By default 0: ``Cache-Control: public``, so caches revalidate with ``If-None-Match`` or
        ``If-Modified-Since``. A positive number sets ``Expires`` and ``Cache-Control: max-age``.
        """
        return 0

    def set_extra_headers(self, path: str, gridout: AgnosticGridOut) -> None:
        """Set headers of your own on the response (called for every found file)."""

    # Requests.

    def _bucket(self) -> AgnosticGridFSBucket:
        bucket_class: Any = framework_class(self.database, AgnosticGridFSBucket)
        return bucket_class(self.database, self.root_collection)  # type: ignore[no-any-return]

    async def get(self, path: str, include_body: bool = True) -> None:
        try:
            gridout = await self.get_gridfs_file(self._bucket(), path, self.request)
            await gridout.open()
        except NoFile:
            raise tornado.web.HTTPError(404) from None
        async with gridout:
            rep = _http.representation(
                gridout._check_open("file document"), self.get_content_type(path, gridout)
            )
            cache_time = self.get_cache_time(path, rep.last_modified, rep.content_type)
            for name, value in rep.headers(cache_time):
                self.set_header(name, value)
            self.set_extra_headers(path, gridout)
            plan = _http.plan_response(self.request.headers, rep)
            self.set_status(plan.status)
            for name, value in plan.headers:
                self.set_header(name, value)
            if include_body and plan.parts:
                try:
                    await _http.send_body(gridout, plan, self._send)
                except tornado.iostream.StreamClosedError:
                    return  # The client went away, as StaticFileHandler assumes too.

    async def _send(self, data: bytes) -> None:
        self.write(data)
        await self.flush()

    async def head(self, path: str) -> None:
        await self.get(path, include_body=False)
