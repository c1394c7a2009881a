"""A FastAPI application on Motor: an inventory of items, their live changes, and file downloads.

- One :class:`~motor.motor_asyncio.AsyncIOMotorClient` for the whole application, created in the
  lifespan and closed when the application stops; the ``items_collection`` dependency hands each
  request the collection it needs.
- CRUD on ``/items`` with Pydantic models: ``POST`` creates, ``GET`` lists or reads one, ``PUT``
  replaces, ``DELETE`` deletes.
- ``GET /items/events``: every change to the items as a server-sent event, from a change stream;
  an event's id is the change stream's resume token, so a reconnecting ``EventSource`` (which sends
  it back as ``Last-Event-ID``) misses nothing.
- ``PUT /files/{filename}`` stores the request body in GridFS; ``GET /files/{file_id}`` streams the
  file back one GridFS chunk at a time, and answers a ``Range: bytes=...`` request with just that
  part (206), or 416 when the range lies beyond the file.

Run it with any ASGI server, for example ``MONGODB_URI=mongodb://localhost:27017 uvicorn app:app``
from this directory; ``test_app.py`` tests it with Motor's pytest plugin and httpx.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Annotated, Any

from bson import ObjectId
from bson.errors import InvalidId
from fastapi import Depends, FastAPI, Header, HTTPException, Request, Response, status
from fastapi.responses import StreamingResponse
from gridfs.errors import NoFile
from pydantic import BaseModel, Field
from pymongo.errors import OperationFailure

from motor.motor_asyncio import (
    AsyncIOMotorClient,
    AsyncIOMotorCollection,
    AsyncIOMotorDatabase,
    AsyncIOMotorGridFSBucket,
)

Document = dict[str, Any]


class ItemIn(BaseModel):
    """What a client sends to create or replace an item."""

    name: str = Field(min_length=1, max_length=200)
    price: float = Field(ge=0)
    tags: list[str] = []


class Item(ItemIn):
    """An item as stored, with its id."""

    id: str

    @classmethod
    def from_document(cls, document: Document) -> Item:
        return cls(id=str(document["_id"]), **{k: v for k, v in document.items() if k != "_id"})


def create_app(mongodb_uri: str | None = None, database: str | None = None) -> FastAPI:
    """The application, on ``mongodb_uri`` (else ``MONGODB_URI``) and ``database`` (else "inventory")."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        uri = mongodb_uri or os.environ.get("MONGODB_URI", "mongodb://localhost:27017")
        # One client for the application: it holds the connection pool and the worker threads.
        client: AsyncIOMotorClient[Document] = AsyncIOMotorClient(uri)
        app.state.db = client[database or "inventory"]
        try:
            yield
        finally:
            await client.aclose()

    app = FastAPI(title="Inventory", lifespan=lifespan)
    _add_routes(app)
    return app


def get_database(request: Request) -> AsyncIOMotorDatabase[Document]:
    """The application's database (created by the lifespan)."""
    db: AsyncIOMotorDatabase[Document] = request.app.state.db
    return db


Database = Annotated[AsyncIOMotorDatabase[Document], Depends(get_database)]


def items_collection(db: Database) -> AsyncIOMotorCollection[Document]:
    """The collection of items."""
    return db.items


Items = Annotated[AsyncIOMotorCollection[Document], Depends(items_collection)]


def object_id(value: str) -> ObjectId:
    """The ObjectId in a path, or 404: an id that cannot exist names nothing."""
    try:
        return ObjectId(value)
    except InvalidId:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such item") from None


_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def parse_range(header: str | None, length: int) -> tuple[int, int] | None:
    """The first and last byte that a single-range ``Range`` header asks for.

    :return: ``None`` to send the whole file (no header, or one this application does not serve,
        such as several ranges, which HTTP allows a server to ignore).
    :raises HTTPException: 416 if the range starts beyond the file.
    """
    match = _RANGE.fullmatch(header.strip()) if header else None
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first_text, last_text = match.groups()
    if first_text == "":  # "bytes=-N": the last N bytes.
        first, last = max(length - int(last_text), 0), length - 1
    else:
        first = int(first_text)
        last = min(int(last_text), length - 1) if last_text else length - 1
    if first >= length or first > last:
        raise HTTPException(
            status.HTTP_416_RANGE_NOT_SATISFIABLE, headers={"Content-Range": f"bytes */{length}"}
        )
    return first, last


def _add_routes(app: FastAPI) -> None:
    @app.post("/items", status_code=status.HTTP_201_CREATED)
    async def create_item(item: ItemIn, items: Items) -> Item:
        document = item.model_dump()
        result = await items.insert_one(document)
        return Item(id=str(result.inserted_id), **item.model_dump())

    @app.get("/items")
    async def list_items(items: Items, tag: str | None = None, limit: int = 100) -> list[Item]:
        query = {} if tag is None else {"tags": tag}
        return [Item.from_document(doc) async for doc in items.find(query).sort("name").limit(limit)]

    # Declared before /items/{item_id}, which would otherwise take "events" for an id.
    @app.get("/items/events")
    async def item_events(
        items: Items, last_event_id: Annotated[str | None, Header()] = None
    ) -> StreamingResponse:
        resume_after = {"_data": last_event_id} if last_event_id else None
        # The stream opens here, before the response starts: the client knows, once it has the
        # headers, that no later change is missed, and a stale Last-Event-ID gets an error status
        # rather than an empty stream.
        opened = AsyncExitStack()
        try:
            stream = await opened.enter_async_context(
                items.watch(full_document="updateLookup", resume_after=resume_after)
            )
        except OperationFailure as exc:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, f"cannot resume: {exc}") from None
        return StreamingResponse(
            _events(stream, opened), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
        )

    @app.get("/items/{item_id}")
    async def read_item(item_id: str, items: Items) -> Item:
        document = await items.find_one({"_id": object_id(item_id)})
        if document is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such item")
        return Item.from_document(document)

    @app.put("/items/{item_id}")
    async def replace_item(item_id: str, item: ItemIn, items: Items) -> Item:
        result = await items.replace_one({"_id": object_id(item_id)}, item.model_dump())
        if result.matched_count == 0:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such item")
        return Item(id=item_id, **item.model_dump())

    @app.delete("/items/{item_id}", status_code=status.HTTP_204_NO_CONTENT)
    async def delete_item(item_id: str, items: Items) -> Response:
        result = await items.delete_one({"_id": object_id(item_id)})
        if result.deleted_count == 0:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such item")
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @app.put("/files/{filename}", status_code=status.HTTP_201_CREATED)
    async def upload_file(filename: str, request: Request, db: Database) -> dict[str, str]:
        bucket = AsyncIOMotorGridFSBucket(db)
        content_type = request.headers.get("Content-Type", "application/octet-stream")
        async with bucket.open_upload_stream(filename, metadata={"contentType": content_type}) as grid_in:
            async for chunk in request.stream():
                await grid_in.write(chunk)
        return {"id": str(grid_in._id)}

    @app.get("/files/{file_id}")
    async def download_file(
        file_id: str, db: Database, range_header: Annotated[str | None, Header(alias="Range")] = None
    ) -> StreamingResponse:
        bucket = AsyncIOMotorGridFSBucket(db)
        try:
            grid_out = await bucket.open_download_stream(object_id(file_id))
        except NoFile:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such file") from None
        length = grid_out.length
        headers = {"Accept-Ranges": "bytes"}
        requested = parse_range(range_header, length)
        if requested is None:
            first, last, code = 0, length - 1, status.HTTP_200_OK
        else:
            first, last = requested
            code = status.HTTP_206_PARTIAL_CONTENT
            headers["Content-Range"] = f"bytes {first}-{last}/{length}"
        headers["Content-Length"] = str(last - first + 1)
        metadata = grid_out.metadata or {}
        return StreamingResponse(
            _file_body(grid_out, first, last),
            status_code=code,
            headers=headers,
            media_type=metadata.get("contentType", "application/octet-stream"),
        )


async def _events(stream: Any, opened: AsyncExitStack) -> AsyncIterator[str]:
    """The change stream as server-sent events, until the client goes away.

    When it does, the server cancels this generator; the pending fetch's cancellation kills the
    change stream's cursor on the server, and ``opened`` closes the Motor change stream.
    """
    async with opened:
        async for change in stream:
            document = change.get("fullDocument")
            data = {
                "operation": change["operationType"],
                "id": str(change["documentKey"]["_id"]),
                "item": None if document is None else Item.from_document(document).model_dump(),
            }
            yield f"id: {change['_id']['_data']}\nevent: change\ndata: {json.dumps(data)}\n\n"


async def _file_body(grid_out: Any, first: int, last: int) -> AsyncIterator[bytes]:
    """Bytes ``first`` to ``last`` of the file, one GridFS chunk at a time."""
    grid_out.seek(first)
    remaining = last - first + 1
    while remaining > 0:
        chunk = await grid_out.readchunk()
        if not chunk:
            break
        chunk = chunk[:remaining]
        remaining -= len(chunk)
        yield chunk


app = create_app()
