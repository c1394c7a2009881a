"""What the Tornado and aiohttp versions of the message board share.

Everything except the HTTP glue lives here, written once against Motor's API, which is the same for
the asyncio and the Tornado classes:

- validation of a post (:func:`check_post`), with the error message the page shows;
- storage (:class:`Board`): messages in the ``messages`` collection, attachments in the GridFS
  bucket ``attachments``;
- live updates (:class:`LiveUpdates`): *one* change stream per board, whose inserts are fanned out
  to every open ``/events`` connection, so a thousand open tabs cost one worker thread, not a
  thousand;
- the HTML page (:func:`render_page`) and the server-sent events (:func:`event_stream`), with every
  piece of user data escaped;
- the headers that make attachments safe to serve from the board's own origin
  (:func:`attachment_headers`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import html
import logging
import re
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from pymongo import DESCENDING
from pymongo.errors import InvalidOperation, OperationFailure, PyMongoError

__all__ = [
    "BUCKET_NAME",
    "MAX_ATTACHMENT_BYTES",
    "MAX_REQUEST_BYTES",
    "MAX_TEXT_LENGTH",
    "SSE_HEADERS",
    "Board",
    "InvalidPost",
    "LiveUpdates",
    "RunningApp",
    "Subscription",
    "Upload",
    "attachment_headers",
    "check_post",
    "event_stream",
    "http_url",
    "render_message",
    "render_page",
]

log = logging.getLogger("messageboard")

#: The most characters a message may have (after trimming surrounding white space).
MAX_TEXT_LENGTH = 500
#: The largest attachment accepted, in bytes.
MAX_ATTACHMENT_BYTES = 4 * 1024 * 1024
#: The largest request body the HTTP servers read; larger ones are refused by the framework itself.
MAX_REQUEST_BYTES = MAX_ATTACHMENT_BYTES + 256 * 1024
#: How many messages the page shows, and the most an event stream replays on reconnection.
PAGE_SIZE = 100
#: The GridFS bucket of attachments.
BUCKET_NAME = "attachments"
#: Seconds between keep-alive comments on an idle event stream (they also detect gone clients).
KEEPALIVE_SECONDS = 15.0
#: An event stream that falls this many messages behind is closed; the browser reconnects and
#: catches up from the last message it saw.
MAX_BACKLOG = 1000

#: The response headers of ``/events``.
SSE_HEADERS: Mapping[str, str] = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",  # Tell a reverse proxy (nginx) not to buffer the stream.
}

#: Attachment types a browser may show inline; anything else is downloaded.
INLINE_TYPES = frozenset(
    {"image/png", "image/jpeg", "image/gif", "image/webp", "text/plain", "application/pdf"}
)

_CONTENT_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_NEWLINE = re.compile(r"\r\n|\r|\n")


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------


class InvalidPost(ValueError):
    """A post the board refuses; ``str(error)`` is the message the page shows (HTTP 400)."""


@dataclass(frozen=True)
class Upload:
    """A file attached to a post, as the browser sent it."""

    filename: str
    content_type: str
    data: bytes

    @property
    def safe_filename(self) -> str:
        """The file name without any directory part or control characters."""
        name = re.split(r"[\\/]", self.filename)[-1]
        name = _CONTROL.sub("", name).strip()[:200]
        return name or "attachment"

    @property
    def safe_content_type(self) -> str:
        """The media type the browser claimed, if well formed (parameters dropped)."""
        media_type = self.content_type.split(";", 1)[0].strip().lower()
        return media_type if _CONTENT_TYPE.match(media_type) else "application/octet-stream"


def normalize_text(text: str) -> str:
    """One kind of newline (browsers send CRLF), no white space around the message."""
    return _NEWLINE.sub("\n", text).strip()


def check_post(text: str, upload: Upload | None) -> str:
    """Return the text to store for a post.

    :raises InvalidPost: if the message is empty or too long, or the attachment too large.
    """
    text = normalize_text(text)
    if not text:
        raise InvalidPost("Please write a message: it cannot be empty.")
    if len(text) > MAX_TEXT_LENGTH:
        raise InvalidPost(
            f"Your message is {len(text)} characters long; "
            f"a message can be at most {MAX_TEXT_LENGTH} characters."
        )
    if upload is not None and len(upload.data) > MAX_ATTACHMENT_BYTES:
        raise InvalidPost(
            f"The attachment is {_size(len(upload.data))}; "
            f"an attachment can be at most {_size(MAX_ATTACHMENT_BYTES)}."
        )
    return text


# ---------------------------------------------------------------------------------------------
# Storage
# ---------------------------------------------------------------------------------------------


def parse_object_id(value: str | None) -> ObjectId | None:
    """``ObjectId(value)``, or ``None`` if ``value`` is missing or not an ObjectId."""
    if not value:
        return None
    try:
        return ObjectId(value)
    except (InvalidId, TypeError):
        return None


class Board:
    """The messages of one database, through a Motor database of either framework.

    :param database: an ``AsyncIOMotorDatabase`` or a ``MotorDatabase``.
    :param bucket_class: that framework's GridFS bucket class.
    """

    def __init__(self, database: Any, bucket_class: type[Any]) -> None:
        self.database = database
        self.messages = database.messages
        self.attachments = bucket_class(database, BUCKET_NAME)
        self.live = LiveUpdates(self.messages)

    async def start(self) -> None:
        """Open the change stream behind live updates; the board is ready to serve after this."""
        await self.live.start()

    async def close(self) -> None:
        """Close the change stream and end every open event stream."""
        await self.live.close()

    async def recent(self, limit: int = PAGE_SIZE) -> list[dict[str, Any]]:
        """The newest ``limit`` messages, newest first."""
        cursor = self.messages.find().sort("_id", DESCENDING).limit(limit)
        return await cursor.to_list()  # type: ignore[no-any-return]

    async def newer_than(self, message_id: ObjectId, limit: int = PAGE_SIZE) -> list[dict[str, Any]]:
        """Up to ``limit`` messages posted after ``message_id``, oldest first."""
        newer = self.messages.find({"_id": {"$gt": message_id}}).sort("_id", DESCENDING).limit(limit)
        return list(reversed(await newer.to_list()))

    async def post(self, text: str, upload: Upload | None = None) -> dict[str, Any]:
        """Store a message (and its attachment); return the stored document.

        :raises InvalidPost: if :func:`check_post` refuses it.
        """
        text = check_post(text, upload)
        message: dict[str, Any] = {
            "_id": ObjectId(),
            "text": text,
            "created": datetime.datetime.now(datetime.UTC),
        }
        file_id = None
        if upload is not None:
            content_type = upload.safe_content_type
            file_id = await self.attachments.upload_from_stream(
                upload.safe_filename, upload.data, metadata={"contentType": content_type}
            )
            message["attachment"] = {
                "file_id": file_id,
                "filename": upload.safe_filename,
                "length": len(upload.data),
                "content_type": content_type,
            }
        try:
            await self.messages.insert_one(message)
        except Exception:
            if file_id is not None:
                with contextlib.suppress(PyMongoError):
                    await self.attachments.delete(file_id)
            raise
        return message


# ---------------------------------------------------------------------------------------------
# Live updates
# ---------------------------------------------------------------------------------------------


@dataclass(eq=False)
class Subscription:
    """One open event stream's queue of new messages; ``None`` in the queue ends the stream."""

    queue: asyncio.Queue[dict[str, Any] | None] = field(default_factory=asyncio.Queue)
    closed: bool = False

    def close(self) -> None:
        """End the event stream (the client went away, it fell behind, or the board closes)."""
        if not self.closed:
            self.closed = True
            self.queue.put_nowait(None)


class LiveUpdates:
    """One change stream on the messages collection, fanned out to every subscriber.

    The change stream waits for changes on one of the client's worker threads. It is reopened after
    an error, resuming after the last change seen, so that no message is lost to a brief outage.
    """

    PIPELINE = ({"$match": {"operationType": {"$in": ["insert", "invalidate"]}}},)

    def __init__(self, messages: Any) -> None:
        self._messages = messages
        self._subscribers: set[Subscription] = set()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._streams = 0  # Event streams inside subscribe().
        self._idle = asyncio.Event()
        self._idle.set()

    async def start(self) -> None:
        """Open the change stream; return once it is open, so no later insert is missed.

        :raises PyMongoError: if it cannot be opened (the server is not a replica set, ...).
        """
        opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(self._watch(opened), name="messageboard-change-stream")
        self._task = task
        await asyncio.wait({opened, task}, return_when=asyncio.FIRST_COMPLETED)
        if not opened.done():
            task.result()  # Raises what ended the task.
            raise RuntimeError("the change stream ended before it opened")
        await opened  # Raises the error the change stream failed to open with, if any.

    async def _watch(self, opened: asyncio.Future[None]) -> None:
        resume_after: Mapping[str, Any] | None = None
        while True:
            try:
                async with self._messages.watch(list(self.PIPELINE), resume_after=resume_after) as stream:
                    if not opened.done():
                        opened.set_result(None)
                    async for change in stream:
                        if change["operationType"] == "invalidate":
                            resume_after = None  # The collection was dropped: start afresh.
                            break
                        resume_after = stream.resume_token
                        self._publish(change["fullDocument"])
            except PyMongoError as exc:
                if not opened.done():
                    opened.set_exception(exc)
                    return
                if isinstance(exc, InvalidOperation):  # The client was closed.
                    log.warning("change stream stopped: %s", exc)
                    self._close_subscriptions()
                    return
                if isinstance(exc, OperationFailure):
                    resume_after = None  # The server refused to resume: start from now.
                log.warning("change stream failed (%s); reopening it in a second", exc)
                await asyncio.sleep(1)

    def _publish(self, message: dict[str, Any]) -> None:
        for subscription in list(self._subscribers):
            if subscription.queue.qsize() >= MAX_BACKLOG:
                self._subscribers.discard(subscription)
                subscription.close()
            else:
                subscription.queue.put_nowait(message)

    @contextlib.contextmanager
    def subscribe(self) -> Iterator[Subscription]:
        """Receive every message inserted from now on, until the block ends.

        End the response inside the block: :meth:`close` waits for the blocks to end.
        """
        subscription = Subscription()
        if self._closed:
            subscription.close()
        self._subscribers.add(subscription)
        self._streams += 1
        self._idle.clear()
        try:
            yield subscription
        finally:
            self._subscribers.discard(subscription)
            self._streams -= 1
            if not self._streams:
                self._idle.set()

    def _close_subscriptions(self) -> None:
        self._closed = True
        for subscription in list(self._subscribers):
            subscription.close()

    async def close(self, timeout: float = 5) -> None:
        """Close the change stream and every subscription; wait (up to ``timeout`` seconds) until
        the event streams have ended their responses."""
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            # Cancelling the task closes the change stream Motor is waiting on.
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._close_subscriptions()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout)


async def event_stream(
    board: Board, subscription: Subscription, last_event_id: str | None
) -> AsyncIterator[str]:
    """The text of ``/events`` for one client, chunk by chunk, until the subscription closes.

    First a comment (so the response starts at once), then the messages posted after
    ``last_event_id`` (the newest message the page shows, or the last event a reconnecting
    ``EventSource`` saw), then each new message as it is inserted; a keep-alive comment when idle.
    """
    replayed: set[ObjectId] = set()
    chunks = ["retry: 2000\n: connected\n\n"]
    after = parse_object_id(last_event_id)
    if after is not None:
        for message in await board.newer_than(after):
            replayed.add(message["_id"])
            chunks.append(message_event(message))
    yield "".join(chunks)
    while True:
        try:
            message = await asyncio.wait_for(subscription.queue.get(), KEEPALIVE_SECONDS)
        except TimeoutError:
            yield ": keep-alive\n\n"
            continue
        if message is None:
            return
        # The change stream may report, after this stream started, an insert the client has seen.
        seen = message["_id"] in replayed or (after is not None and message["_id"] <= after)
        if not seen:
            yield message_event(message)


def message_event(message: Mapping[str, Any]) -> str:
    """A server-sent event carrying a message's HTML; its id lets a reconnection catch up."""
    data = "".join(f"data: {line}\n" for line in _NEWLINE.split(render_message(message)))
    return f"id: {message['_id']}\nevent: message\n{data}\n"


# ---------------------------------------------------------------------------------------------
# Serving attachments
# ---------------------------------------------------------------------------------------------


def attachment_headers(filename: str | None, metadata: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """Headers that keep an uploaded file from running script on the board's origin.

    The file is sandboxed (no script, no same-origin access) whatever its type, the browser must
    not guess another type, and only harmless types are shown inline.
    """
    content_type = str((metadata or {}).get("contentType", ""))
    disposition = "inline" if content_type in INLINE_TYPES else "attachment"
    quoted = urllib.parse.quote(filename or "attachment", safe="")
    return [
        ("Content-Security-Policy", "sandbox"),
        ("X-Content-Type-Options", "nosniff"),
        ("Content-Disposition", f"{disposition}; filename*=UTF-8''{quoted}"),
    ]


# ---------------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------------


def _size(length: int) -> str:
    if length < 1024:
        return f"{length} bytes"
    if length < 1024 * 1024:
        return f"{length / 1024:.1f} KiB"
    return f"{length / (1024 * 1024):.1f} MiB"


def _utc(moment: datetime.datetime) -> datetime.datetime:
    # PyMongo returns naive datetimes in UTC unless the client is tz_aware.
    return moment.replace(tzinfo=datetime.UTC) if moment.tzinfo is None else moment


def attachment_url(attachment: Mapping[str, Any]) -> str:
    """The URL that serves an attachment: by id, with the file name for the browser's sake."""
    return f"/files/{attachment['file_id']}/{urllib.parse.quote(attachment['filename'], safe='')}"


def render_message(message: Mapping[str, Any]) -> str:
    """One message as a list item, every piece of user data escaped."""
    esc = html.escape
    created = _utc(message["created"])
    parts = [
        f'<li id="m-{message["_id"]}" data-id="{message["_id"]}">',
        f'<p class="text">{esc(message["text"])}</p>',
        f'<p class="meta"><time datetime="{created.isoformat(timespec="seconds")}">'
        f"{created:%Y-%m-%d %H:%M:%S} UTC</time>",
    ]
    attachment = message.get("attachment")
    if attachment:
        url = esc(attachment_url(attachment))
        parts.append(
            f' · <a class="attachment" href="{url}">{esc(attachment["filename"])}</a>'
            f" ({_size(attachment['length'])})"
        )
        if attachment.get("content_type", "").startswith("image/"):
            parts.append(f'<br><img src="{url}" alt="{esc(attachment["filename"])}" loading="lazy">')
    parts.append("</p></li>")
    return "".join(parts)


_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 42rem; margin: 2rem auto; padding: 0 1rem;
       color: #222; }
h1 { margin-bottom: 0; }
.status { margin-top: 0.2rem; color: #666; font-size: 0.9rem; }
#live[data-state="open"] { color: #070; }
form { display: grid; gap: 0.5rem; padding: 1rem; background: #f4f4f8; border-radius: 0.5rem; }
textarea { font: inherit; padding: 0.4rem; }
button { justify-self: start; font: inherit; padding: 0.3rem 1.2rem; }
.error { color: #a00; background: #fee; padding: 0.5rem; border-radius: 0.3rem; margin: 0; }
.hint { color: #666; font-size: 0.85rem; }
#messages { list-style: none; padding: 0; }
#messages li { border-bottom: 1px solid #ddd; padding: 0.6rem 0; }
#messages .text { white-space: pre-wrap; overflow-wrap: anywhere; margin: 0 0 0.3rem; }
#messages .meta { color: #666; font-size: 0.85rem; margin: 0; }
#messages img { max-width: 100%; max-height: 12rem; margin-top: 0.4rem; }
"""

# Listen to /events and put each new message at the top of the list, unless it is there already.
_SCRIPT = """
(() => {
  const list = document.getElementById("messages");
  const empty = document.getElementById("empty");
  const live = document.getElementById("live");
  const newest = list.querySelector("li[data-id]");
  const source = new EventSource(newest ? "/events?after=" + newest.dataset.id : "/events");
  source.onopen = () => { live.textContent = "on"; live.dataset.state = "open"; };
  source.onerror = () => { live.textContent = "reconnecting…"; live.dataset.state = "closed"; };
  source.addEventListener("message", (event) => {
    const template = document.createElement("template");
    template.innerHTML = event.data;
    const item = template.content.firstElementChild;
    if (item && !document.getElementById(item.id)) {
      list.prepend(item);
      if (empty) empty.hidden = true;
    }
  });
})();
"""


def render_page(messages: list[Mapping[str, Any]], *, error: str | None = None, text: str = "") -> str:
    """The board: the form (with ``error`` and the refused ``text`` if any), then the messages."""
    esc = html.escape
    error_html = f'<p class="error" role="alert">{esc(error)}</p>' if error else ""
    items = "\n".join(render_message(message) for message in messages)
    hidden = " hidden" if messages else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Message board</title>
<style>{_STYLE}</style>
</head>
<body>
<header>
<h1>Message board</h1>
<p class="status">Live updates: <span id="live" data-state="connecting">connecting…</span></p>
</header>
<main>
<form method="post" action="/" enctype="multipart/form-data">
{error_html}
<label for="text">Your message</label>
<textarea id="text" name="text" rows="3" maxlength="{MAX_TEXT_LENGTH}" required>{esc(text)}</textarea>
<label for="attachment">Attachment <span class="hint">(optional, up to
{_size(MAX_ATTACHMENT_BYTES)})</span></label>
<input id="attachment" name="attachment" type="file">
<button type="submit">Post</button>
</form>
<p id="empty"{hidden}>No messages yet.</p>
<ul id="messages">
{items}
</ul>
</main>
<script>{_SCRIPT}</script>
</body>
</html>
"""


# ---------------------------------------------------------------------------------------------
# A running app
# ---------------------------------------------------------------------------------------------


@dataclass
class RunningApp:
    """A message board serving HTTP, as ``start()`` of either version returns it."""

    url: str
    framework: str
    board: Board
    _stop: Callable[[], Awaitable[None]]

    async def stop(self) -> None:
        """Stop accepting requests, end the event streams, close the change stream."""
        await self._stop()


def http_url(host: str, port: int) -> str:
    """The board's URL at a bound address."""
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"
