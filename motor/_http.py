"""Serving a GridFS file over HTTP: what :class:`motor.web.GridFSHandler` (Tornado) and
:class:`motor.aiohttp.AIOHTTPGridFS` share.

Everything but the framework glue is here: the representation headers (``Content-Type``, ``ETag``,
``Last-Modified``, caching), conditional requests (``If-None-Match``, ``If-Modified-Since``,
``If-Range``), range requests (RFC 9110 §14: single ranges, suffix and open-ended ranges,
``multipart/byteranges`` for several, 416 when none is satisfiable, a malformed ``Range`` ignored),
and the body, streamed one chunk at a time.

A handler calls :func:`representation` for the file, sets its headers, lets the application add
its own, then calls :func:`plan_response` for the status, the remaining headers and the body parts,
and streams the parts with :func:`send_body`.
"""

from __future__ import annotations

import datetime
import email.utils
import hashlib
import mimetypes
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from gridfs.errors import CorruptGridFile

__all__ = [
    "MAX_RANGES",
    "BodyPart",
    "Representation",
    "ResponsePlan",
    "cache_headers",
    "default_content_type",
    "parse_range",
    "plan_response",
    "representation",
    "send_body",
]

#: The most ranges one request may ask for (after merging overlapping ones); a ``Range`` header
#: asking for more is ignored and the whole file is sent, as RFC 9110 §14.2 allows.
MAX_RANGES: Final = 32

_RANGE_SPEC = re.compile(r"([0-9]*)[ \t]*-[ \t]*([0-9]*)")
_ENTITY_TAG = re.compile(r'[ \t]*(W/)?"([^"]*)"[ \t]*(?:,|$)')
# Beyond this many digits a position is simply "larger than any file".
_MAX_DIGITS = 18
_HUGE = 10**_MAX_DIGITS


@dataclass(frozen=True)
class Representation:
    """What a response says about the file, whatever part of it is sent."""

    length: int
    content_type: str
    etag: str
    last_modified: datetime.datetime

    def headers(self, cache_time: int, now: datetime.datetime | None = None) -> list[tuple[str, str]]:
        """The headers every response for this file carries (200, 206, 304, 416)."""
        return [
            ("Content-Type", self.content_type),
            ("Accept-Ranges", "bytes"),
            ("ETag", self.etag),
            ("Last-Modified", http_date(self.last_modified)),
            *cache_headers(cache_time, now),
        ]


@dataclass(frozen=True)
class BodyPart:
    """Bytes ``start`` to ``end`` (inclusive) of the file, between ``head`` and ``tail``.

    ``end < start`` means no bytes of the file (the closing delimiter of a multipart body).
    """

    start: int
    end: int
    head: bytes = b""
    tail: bytes = b""

    @property
    def size(self) -> int:
        return len(self.head) + max(0, self.end - self.start + 1) + len(self.tail)


@dataclass(frozen=True)
class ResponsePlan:
    """The status, the headers to add to the representation's, and the body of a response."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    parts: list[BodyPart] = field(default_factory=list)

    @property
    def content_length(self) -> int:
        return sum(part.size for part in self.parts)


def utc(value: datetime.datetime) -> datetime.datetime:
    """``value`` as an aware UTC datetime (PyMongo returns naive UTC datetimes by default)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=datetime.UTC)
    return value.astimezone(datetime.UTC)


def http_date(value: datetime.datetime) -> str:
    """Format ``value`` as an HTTP date (IMF-fixdate)."""
    return email.utils.format_datetime(utc(value), usegmt=True)


def parse_http_date(value: str) -> datetime.datetime | None:
    """Parse an HTTP date; return ``None`` if it is not one."""
    try:
        parsed = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    return utc(parsed)


def default_content_type(file_document: Mapping[str, Any], filename: str) -> str:
    """The file's media type: ``metadata.contentType``, else the document's ``contentType``
    (deprecated by PyMongo), else guessed from ``filename``, else ``application/octet-stream``."""
    metadata = file_document.get("metadata")
    if isinstance(metadata, Mapping):
        declared = metadata.get("contentType")
        if isinstance(declared, str) and declared:
            return declared
    declared = file_document.get("contentType")
    if isinstance(declared, str) and declared:
        return declared
    mime_type, encoding = mimetypes.guess_type(filename)
    if encoding == "gzip":
        return "application/gzip"
    if encoding is None and mime_type is not None:
        return mime_type
    return "application/octet-stream"


def file_digest(file_id: Any, length: Any, upload_date: Any) -> str:
    """Motor 3's digest of a GridFS file: the hex SHA-256 of ``str()`` of its ``_id``, length and
    upload date, fed in that order."""
    hasher = hashlib.sha256()
    for value in (file_id, length, upload_date):
        hasher.update(str(value).encode("utf-8"))
    return hasher.hexdigest()


def compute_etag(file_document: Mapping[str, Any]) -> str:
    """A strong entity tag: :func:`file_digest` of the file, quoted (a GridFS file never changes
    once uploaded). It is the tag Motor 3 sent, so that caches keep their entries after an upgrade.
    """
    digest = file_digest(
        file_document.get("_id"), file_document.get("length", 0), file_document.get("uploadDate")
    )
    return f'"{digest}"'


def representation(file_document: Mapping[str, Any], content_type: str | None = None) -> Representation:
    """Describe a GridFS file for HTTP.

    :param file_document: the file's document from the bucket's ``files`` collection.
    :param content_type: the media type, if the application chose one; else
        :func:`default_content_type`.
    """
    upload_date = file_document.get("uploadDate")
    if not isinstance(upload_date, datetime.datetime):
        upload_date = datetime.datetime.fromtimestamp(0, datetime.UTC)
    return Representation(
        length=int(file_document.get("length", 0)),
        content_type=content_type or default_content_type(file_document, str(file_document.get("filename"))),
        etag=compute_etag(file_document),
        # HTTP dates have a resolution of one second.
        last_modified=utc(upload_date).replace(microsecond=0),
    )


def cache_headers(cache_time: int, now: datetime.datetime | None = None) -> list[tuple[str, str]]:
    """``Expires`` and ``Cache-Control: max-age`` for a positive ``cache_time`` (seconds), else
    ``Cache-Control: public`` (caches may store the file but must revalidate it)."""
    if cache_time > 0:
        now = now or datetime.datetime.now(datetime.UTC)
        return [
            ("Expires", http_date(now + datetime.timedelta(seconds=cache_time))),
            ("Cache-Control", f"max-age={cache_time}"),
        ]
    return [("Cache-Control", "public")]


def _position(digits: str) -> int:
    return int(digits) if len(digits) <= _MAX_DIGITS else _HUGE


class _MalformedRange(ValueError):
    """A ``Range`` header that does not follow the grammar: it is ignored."""


def _satisfiable_range(spec: str, length: int) -> tuple[int, int] | None:
    """The ``(first, last)`` of one range-spec, or ``None`` if it is not satisfiable.

    :raises _MalformedRange: if ``spec`` is not a range-spec.
    """
    match = _RANGE_SPEC.fullmatch(spec)
    if match is None:
        raise _MalformedRange(spec)
    first_digits, last_digits = match.groups()
    if first_digits:  # int-range: first-pos "-" [ last-pos ]
        first = _position(first_digits)
        last = _position(last_digits) if last_digits else _HUGE
        if last < first:
            raise _MalformedRange(spec)
        return (first, min(last, length - 1)) if first < length else None
    if not last_digits:  # A lone "-".
        raise _MalformedRange(spec)
    suffix = _position(last_digits)  # suffix-range: "-" suffix-length
    return (max(0, length - suffix), length - 1) if suffix > 0 and length > 0 else None


def parse_range(header: str | None, length: int) -> list[tuple[int, int]] | None:
    """Parse a ``Range`` header (RFC 9110 §14.1.2) for a representation of ``length`` bytes.

    :return: ``None`` if the header is absent, malformed, of another unit than ``bytes``, or asks
        for more than :data:`MAX_RANGES` ranges: then the whole file is sent. Otherwise the
        satisfiable ranges as ``(first, last)`` byte positions (inclusive), sorted, with overlapping
        and adjacent ones merged; an empty list means none is satisfiable (416).
    """
    if header is None:
        return None
    unit, equals, range_set = header.partition("=")
    # Empty list elements are allowed, and ignored; a set of nothing else is malformed.
    specs = [spec.strip() for spec in range_set.split(",") if spec.strip()]
    if not equals or unit.strip().lower() != "bytes" or not specs:
        return None
    try:
        ranges = sorted(r for spec in specs if (r := _satisfiable_range(spec, length)) is not None)
    except _MalformedRange:
        return None
    merged: list[tuple[int, int]] = []
    for first, last in ranges:
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged if len(merged) <= MAX_RANGES else None


def _entity_tags(value: str) -> list[tuple[bool, str]] | None:
    """Parse a list of entity tags as ``(weak, opaque_tag)``; ``None`` if malformed."""
    tags: list[tuple[bool, str]] = []
    position = 0
    value = value.strip()
    while position < len(value):
        match = _ENTITY_TAG.match(value, position)
        if match is None:
            return None
        tags.append((match.group(1) is not None, match.group(2)))
        position = match.end()
    return tags


def _opaque(etag: str) -> str:
    return etag.removeprefix("W/").strip('"')


def none_match(header: str, etag: str) -> bool:
    """Whether ``If-None-Match: header`` matches ``etag`` (weak comparison, RFC 9110 §13.1.2)."""
    if header.strip() == "*":
        return True
    tags = _entity_tags(header)
    if not tags:
        return False
    return any(tag == _opaque(etag) for _, tag in tags)


def modified_since(header: str, last_modified: datetime.datetime) -> bool:
    """Whether the file changed after the date ``If-Modified-Since: header`` gives (a header that
    is not a date counts as changed)."""
    since = parse_http_date(header)
    return since is None or last_modified > since


def range_allowed(header: str | None, rep: Representation) -> bool:
    """Whether ``If-Range: header`` lets a ``Range`` apply (RFC 9110 §13.1.5): absent, or the same
    strong entity tag, or exactly the file's ``Last-Modified`` date."""
    if header is None:
        return True
    header = header.strip()
    if header.startswith(('"', "W/")):
        tags = _entity_tags(header)
        return tags is not None and len(tags) == 1 and not tags[0][0] and tags[0][1] == _opaque(rep.etag)
    date = parse_http_date(header)
    return date is not None and date == rep.last_modified


def not_modified(headers: Mapping[str, str], rep: Representation) -> bool:
    """Whether a GET or HEAD with these request headers gets 304 Not Modified (RFC 9110 §13.2.2:
    ``If-None-Match`` if present, else ``If-Modified-Since``)."""
    if_none_match = headers.get("If-None-Match")
    if if_none_match is not None:
        return none_match(if_none_match, rep.etag)
    if_modified_since = headers.get("If-Modified-Since")
    if if_modified_since is not None:
        return not modified_since(if_modified_since, rep.last_modified)
    return False


def _content_range(first: int, last: int, length: int) -> str:
    return f"bytes {first}-{last}/{length}"


def plan_response(
    headers: Mapping[str, str], rep: Representation, boundary: str | None = None
) -> ResponsePlan:
    """Decide the response to a GET (or HEAD) of the file.

    :param headers: the request's headers (looked up with ``.get``, case-insensitively).
    :param rep: the file's representation.
    :param boundary: the ``multipart/byteranges`` boundary; random by default.
    :return: 304 with no body; 416 with ``Content-Range: bytes */length``; 206 with one range and
        ``Content-Range``, or several as ``multipart/byteranges``; else 200 with the whole file.
        The plan's headers include ``Content-Length`` (except for 304).
    """
    if not_modified(headers, rep):
        return ResponsePlan(304)
    length = rep.length
    ranges = parse_range(headers.get("Range"), length)
    if ranges is not None and not range_allowed(headers.get("If-Range"), rep):
        ranges = None
    if ranges is None:
        parts = [BodyPart(0, length - 1)] if length else []
        plan = ResponsePlan(200, parts=parts)
    elif not ranges:
        plan = ResponsePlan(416, [("Content-Range", f"bytes */{length}")])
    elif len(ranges) == 1:
        first, last = ranges[0]
        plan = ResponsePlan(
            206, [("Content-Range", _content_range(first, last, length))], [BodyPart(first, last)]
        )
    else:
        boundary = boundary or secrets.token_hex(16)
        parts = [
            BodyPart(
                first,
                last,
                head=(
                    f"--{boundary}\r\nContent-Type: {rep.content_type}\r\n"
                    f"Content-Range: {_content_range(first, last, length)}\r\n\r\n"
                ).encode("latin-1"),
                tail=b"\r\n",
            )
            for first, last in ranges
        ]
        parts.append(BodyPart(0, -1, head=f"--{boundary}--\r\n".encode("latin-1")))
        plan = ResponsePlan(206, [("Content-Type", f"multipart/byteranges; boundary={boundary}")], parts)
    plan.headers.append(("Content-Length", str(plan.content_length)))
    return plan


async def send_body(grid_out: Any, plan: ResponsePlan, write: Callable[[bytes], Awaitable[None]]) -> None:
    """Send the plan's body: ``await write(data)`` for each piece, one GridFS chunk at a time.

    While one chunk is written, the next is read.

    :param grid_out: an open Motor GridOut.
    :param write: writes and flushes ``data`` to the response.
    :raises CorruptGridFile: if the file ends before a range does.
    """
    for part in plan.parts:
        if part.head:
            await write(part.head)
        if part.end >= part.start:
            grid_out.seek(part.start)
            remaining = part.end - part.start + 1
            pending = grid_out.readchunk()
            try:
                while remaining > 0:
                    chunk: bytes = await pending
                    if not chunk:
                        raise CorruptGridFile(f"file ends {remaining} bytes before the range does")
                    if len(chunk) > remaining:
                        chunk = chunk[:remaining]
                    remaining -= len(chunk)
                    if remaining > 0:
                        pending = grid_out.readchunk()
                    await write(chunk)
            finally:
                if not pending.done():
                    pending.cancel()
                pending.add_done_callback(lambda f: f.cancelled() or f.exception())
        if part.tail:
            await write(part.tail)
