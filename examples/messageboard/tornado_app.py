"""The message board on Tornado: :class:`motor.motor_tornado.MotorClient` and
:class:`motor.web.GridFSHandler`. Only HTTP glue; the board itself is in :mod:`.common`."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import tornado.httpserver
import tornado.iostream
import tornado.netutil
import tornado.web
from bson import ObjectId

from motor.motor_tornado import MotorClient, MotorGridFSBucket
from motor.web import GridFSHandler

from .common import (
    BUCKET_NAME,
    MAX_REQUEST_BYTES,
    SSE_HEADERS,
    Board,
    InvalidPost,
    RunningApp,
    Upload,
    attachment_headers,
    event_stream,
    http_url,
    render_page,
)

__all__ = ["Client", "GridFSBucket", "make_app", "start"]

#: The client class this version uses.
Client = MotorClient
#: The GridFS bucket class this version uses.
GridFSBucket = MotorGridFSBucket


class BoardHandler(tornado.web.RequestHandler):
    """``GET /``: the page. ``POST /``: a new message, then a redirect to the page."""

    def initialize(self, board: Board) -> None:
        self.board = board

    async def get(self) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.write(render_page(await self.board.recent()))

    async def post(self) -> None:
        text = self.get_body_argument("text", "", strip=False)
        files = self.request.files.get("attachment")
        upload = Upload(files[0].filename, files[0].content_type, files[0].body) if files else None
        try:
            await self.board.post(text, upload)
        except InvalidPost as exc:
            self.set_status(400)
            self.set_header("Content-Type", "text/html; charset=utf-8")
            self.write(render_page(await self.board.recent(), error=str(exc), text=text))
            return
        self.redirect("/", status=303)


class EventsHandler(tornado.web.RequestHandler):
    """``GET /events``: new messages as server-sent events."""

    def initialize(self, board: Board) -> None:
        self.board = board
        self.subscription: Any = None

    async def get(self) -> None:
        for name, value in SSE_HEADERS.items():
            self.set_header(name, value)
        last_event_id = self.request.headers.get("Last-Event-ID") or self.get_query_argument("after", None)
        with self.board.live.subscribe() as self.subscription:
            events = event_stream(self.board, self.subscription, last_event_id)
            try:
                async for chunk in events:
                    self.write(chunk)
                    await self.flush()
                await self.finish()
            except tornado.iostream.StreamClosedError:
                pass  # The client went away.
            finally:
                await events.aclose()

    def on_connection_close(self) -> None:
        # End the stream now rather than at the next keep-alive.
        if self.subscription is not None:
            self.subscription.close()


class AttachmentHandler(GridFSHandler):
    """``GET /files/<id>/<name>``: an attachment, by the id of its GridFS file."""

    def get_gridfs_file(self, bucket: Any, filename: str, request: Any) -> Any:
        return bucket.open_download_stream(ObjectId(filename))

    def set_extra_headers(self, path: str, gridout: Any) -> None:
        for name, value in attachment_headers(gridout.filename, gridout.metadata):
            self.set_header(name, value)


def make_app(board: Board) -> tornado.web.Application:
    """The Tornado application of ``board``."""
    return tornado.web.Application(
        [
            (r"/", BoardHandler, {"board": board}),
            (r"/events", EventsHandler, {"board": board}),
            (
                r"/files/([0-9a-f]{24})/[^/]+",
                AttachmentHandler,
                {"database": board.database, "root_collection": BUCKET_NAME},
            ),
        ]
    )


async def start(database: Any, *, host: str = "127.0.0.1", port: int = 0) -> RunningApp:
    """Serve the board of ``database`` (a ``MotorDatabase``) on ``host:port`` (0: a free port)."""
    board = Board(database, GridFSBucket)
    await board.start()
    try:
        sockets = tornado.netutil.bind_sockets(port, host)
    except BaseException:
        await board.close()
        raise
    server = tornado.httpserver.HTTPServer(make_app(board), max_body_size=MAX_REQUEST_BYTES)
    server.add_sockets(sockets)
    bound_host, bound_port = sockets[0].getsockname()[:2]

    async def stop() -> None:
        server.stop()
        await board.close()  # Ends the event streams.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.close_all_connections(), 5)

    return RunningApp(http_url(bound_host, bound_port), "tornado", board, stop)
