"""The message board on aiohttp: :class:`motor.motor_asyncio.AsyncIOMotorClient` and
:class:`motor.aiohttp.AIOHTTPGridFS`. Only HTTP glue; the board itself is in :mod:`.common`."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import aiohttp.web
from bson import ObjectId

from motor.aiohttp import AIOHTTPGridFS
from motor.motor_asyncio import AsyncIOMotorClient, AsyncIOMotorGridFSBucket

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
Client = AsyncIOMotorClient
#: The GridFS bucket class this version uses.
GridFSBucket = AsyncIOMotorGridFSBucket

board_key = aiohttp.web.AppKey("board", Board)


async def show_board(request: aiohttp.web.Request) -> aiohttp.web.Response:
    """``GET /``: the page."""
    board = request.app[board_key]
    return aiohttp.web.Response(text=render_page(await board.recent()), content_type="text/html")


async def post_message(request: aiohttp.web.Request) -> aiohttp.web.Response:
    """``POST /``: a new message, then a redirect to the page."""
    board = request.app[board_key]
    form = await request.post()
    text = form.get("text", "")
    if not isinstance(text, str):
        text = ""
    field = form.get("attachment")
    upload = None
    if isinstance(field, aiohttp.web.FileField):
        # aiohttp spools the file to a temporary file: read it off the event loop.
        data = await asyncio.to_thread(field.file.read)
        upload = Upload(field.filename, field.content_type, data)
    try:
        await board.post(text, upload)
    except InvalidPost as exc:
        page = render_page(await board.recent(), error=str(exc), text=text)
        return aiohttp.web.Response(status=400, text=page, content_type="text/html")
    raise aiohttp.web.HTTPSeeOther("/")


async def stream_events(request: aiohttp.web.Request) -> aiohttp.web.StreamResponse:
    """``GET /events``: new messages as server-sent events."""
    board = request.app[board_key]
    response = aiohttp.web.StreamResponse(headers=SSE_HEADERS)
    last_event_id = request.headers.get("Last-Event-ID") or request.query.get("after")
    with board.live.subscribe() as subscription:
        await response.prepare(request)
        events = event_stream(board, subscription, last_event_id)
        try:
            async for chunk in events:
                await response.write(chunk.encode())
            await response.write_eof()
        except ConnectionResetError:
            pass  # The client went away.
        finally:
            await events.aclose()
    return response


def _attachment_by_id(bucket: Any, filename: str, request: aiohttp.web.Request) -> Any:
    return bucket.open_download_stream(ObjectId(filename))


def _set_attachment_headers(response: aiohttp.web.StreamResponse, gridout: Any) -> None:
    for name, value in attachment_headers(gridout.filename, gridout.metadata):
        response.headers[name] = value


def make_app(board: Board) -> aiohttp.web.Application:
    """The aiohttp application of ``board``."""
    app = aiohttp.web.Application(client_max_size=MAX_REQUEST_BYTES)
    app[board_key] = board
    app.router.add_get("/", show_board)
    app.router.add_post("/", post_message)
    app.router.add_get("/events", stream_events)
    attachments = AIOHTTPGridFS(
        board.database,
        BUCKET_NAME,
        get_gridfs_file=_attachment_by_id,
        set_extra_headers=_set_attachment_headers,
    )
    app.router.add_get(r"/files/{filename:[0-9a-f]{24}}/{name}", attachments)
    return app


async def start(database: Any, *, host: str = "127.0.0.1", port: int = 0) -> RunningApp:
    """Serve the board of ``database`` (an ``AsyncIOMotorDatabase``) on ``host:port`` (0: a free
    port)."""
    board = Board(database, GridFSBucket)
    await board.start()
    runner = aiohttp.web.AppRunner(make_app(board), shutdown_timeout=5)
    await runner.setup()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        bound_host, bound_port = sock.getsockname()[:2]
        await aiohttp.web.SockSite(runner, sock).start()
    except BaseException:
        sock.close()
        await runner.cleanup()
        await board.close()
        raise

    async def stop() -> None:
        await board.close()
        await runner.cleanup()

    return RunningApp(http_url(bound_host, bound_port), "aiohttp", board, stop)
