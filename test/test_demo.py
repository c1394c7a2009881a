"""The message board demo (examples/messageboard), both versions, over real HTTP.

Each test starts the Tornado or the aiohttp version in the test's event loop, on a free port of
127.0.0.1, against the suite's server, and talks to it with aiohttp's HTTP client: the page, posting
(form-encoded and multipart), escaping, refused posts, attachments through GridFS, and live updates
over server-sent events. ``test_command_line`` runs ``python -m examples.messageboard`` as a user
would. ``test_live_update_in_browser`` drives a real headless Chromium through the DevTools
protocol: a message posted in one tab appears in another without a reload.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import re
import shutil
import signal
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from bson import ObjectId

from examples.messageboard import aiohttp_app, common, tornado_app

ROOT = Path(__file__).resolve().parent.parent
DEMO_DB = "motor_test_demo"
GLUE = {"tornado": tornado_app, "aiohttp": aiohttp_app}


@pytest.fixture(params=sorted(GLUE))
async def board(request: pytest.FixtureRequest, mongodb_uri: str) -> AsyncIterator[common.RunningApp]:
    """One version of the board, serving an empty database."""
    glue = GLUE[request.param]
    client = glue.Client(mongodb_uri)
    await client.drop_database(DEMO_DB)
    app = await glue.start(client[DEMO_DB])
    try:
        yield app
    finally:
        await app.stop()
        await client.aclose()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


async def post(
    http: aiohttp.ClientSession, board: common.RunningApp, text: str, **extra: Any
) -> tuple[int, str, str | None]:
    """POST the form, form-encoded, without following the redirect: (status, body, Location)."""
    async with http.post(board.url, data={"text": text, **extra}, allow_redirects=False) as response:
        return response.status, await response.text(), response.headers.get("Location")


async def post_multipart(
    http: aiohttp.ClientSession,
    board: common.RunningApp,
    text: str,
    filename: str,
    data: bytes,
    content_type: str,
) -> tuple[int, str]:
    form = aiohttp.FormData(quote_fields=False)  # As browsers send file names: unquoted.
    form.add_field("text", text)
    # A file object: aiohttp warns that large bytes would block the loop.
    form.add_field("attachment", io.BytesIO(data), filename=filename, content_type=content_type)
    async with http.post(board.url, data=form, allow_redirects=False) as response:
        return response.status, await response.text()


async def page(http: aiohttp.ClientSession, board: common.RunningApp) -> str:
    async with http.get(board.url) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/html")
        return await response.text()


def listed_texts(html_page: str) -> list[str]:
    """The texts of the listed messages, in page order (still HTML-escaped)."""
    return re.findall(r'<p class="text">(.*?)</p>', html_page, re.DOTALL)


# ---------------------------------------------------------------------------------------------
# Pages and posts
# ---------------------------------------------------------------------------------------------


async def test_empty_board(board: common.RunningApp, http: aiohttp.ClientSession) -> None:
    html_page = await page(http, board)
    assert '<form method="post" action="/" enctype="multipart/form-data">' in html_page
    assert '<textarea id="text" name="text"' in html_page
    assert '<p id="empty">No messages yet.</p>' in html_page
    assert listed_texts(html_page) == []
    assert 'new EventSource(newest ? "/events?after="' in html_page


async def test_post_redirects_and_lists_newest_first(
    board: common.RunningApp, http: aiohttp.ClientSession
) -> None:
    for text in ("first", "second", "third"):
        status, _, location = await post(http, board, text)
        assert (status, location) == (303, "/")
    html_page = await page(http, board)
    assert listed_texts(html_page) == ["third", "second", "first"]
    assert '<p id="empty" hidden>' in html_page
    # Following the redirect, as a browser does, lands on the page.
    async with http.post(board.url, data={"text": "fourth"}) as response:
        assert response.status == 200
        assert listed_texts(await response.text())[0] == "fourth"


async def test_text_is_trimmed_and_keeps_its_lines(
    board: common.RunningApp, http: aiohttp.ClientSession
) -> None:
    status, _, _ = await post(http, board, "  \r\none\r\ntwo\n  ")
    assert status == 303
    assert listed_texts(await page(http, board)) == ["one\ntwo"]


async def test_html_is_escaped(board: common.RunningApp, http: aiohttp.ClientSession) -> None:
    text = '<script>alert("owned")</script> & <b>bold</b>'
    assert (await post(http, board, text))[0] == 303
    html_page = await page(http, board)
    assert "<script>alert" not in html_page
    assert "<b>bold" not in html_page
    assert listed_texts(html_page) == [
        "&lt;script&gt;alert(&quot;owned&quot;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;"
    ]


@pytest.mark.parametrize("text", ["", "   ", "\r\n\t \n"], ids=["empty", "spaces", "white-space"])
async def test_empty_message_is_refused(
    board: common.RunningApp, http: aiohttp.ClientSession, text: str
) -> None:
    status, body, _ = await post(http, board, text)
    assert status == 400
    assert '<p class="error" role="alert">Please write a message: it cannot be empty.</p>' in body
    assert '<textarea id="text" name="text"' in body  # The form, to try again.
    assert listed_texts(await page(http, board)) == []


async def test_missing_text_field_is_refused(board: common.RunningApp, http: aiohttp.ClientSession) -> None:
    async with http.post(board.url, data={"other": "x"}, allow_redirects=False) as response:
        assert response.status == 400
        assert "cannot be empty" in await response.text()


async def test_over_long_message_is_refused(board: common.RunningApp, http: aiohttp.ClientSession) -> None:
    assert (await post(http, board, "existing"))[0] == 303
    text = "<" * (common.MAX_TEXT_LENGTH + 1)
    status, body, _ = await post(http, board, text)
    assert status == 400
    assert "Your message is 501 characters long; a message can be at most 500 characters." in body
    # The refused text comes back in the form, escaped, and the messages are still listed.
    assert f">{'&lt;' * 501}</textarea>" in body
    assert listed_texts(body) == ["existing"]
    assert listed_texts(await page(http, board)) == ["existing"]


async def test_message_of_the_maximum_length_is_accepted(
    board: common.RunningApp, http: aiohttp.ClientSession
) -> None:
    text = "é" * common.MAX_TEXT_LENGTH
    assert (await post(http, board, text))[0] == 303
    assert listed_texts(await page(http, board)) == [text]


# ---------------------------------------------------------------------------------------------
# Attachments
# ---------------------------------------------------------------------------------------------


async def test_attachment_round_trip(board: common.RunningApp, http: aiohttp.ClientSession) -> None:
    data = bytes(range(256)) * 1200  # 300 KiB: several GridFS chunks.
    status, _ = await post_multipart(
        http, board, "with a file", "dir\\report 1.bin", data, "application/x-thing"
    )
    assert status == 303
    html_page = await page(http, board)
    links = re.findall(r'<a class="attachment" href="(/files/[0-9a-f]{24}/[^"]+)">([^<]+)</a>', html_page)
    assert links == [(links[0][0], "report 1.bin")]
    assert links[0][0].endswith("/report%201.bin")
    async with http.get(board.url + links[0][0][1:]) as response:
        assert response.status == 200
        assert await response.read() == data
        assert response.headers["Content-Type"] == "application/x-thing"
        assert response.headers["Content-Security-Policy"] == "sandbox"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Disposition"] == "attachment; filename*=UTF-8''report%201.bin"


async def test_image_attachment_is_shown_inline(
    board: common.RunningApp, http: aiohttp.ClientSession
) -> None:
    status, _ = await post_multipart(http, board, "a picture", "dot.png", b"\x89PNG fake", "image/png")
    assert status == 303
    html_page = await page(http, board)
    match = re.search(r'<img src="(/files/[0-9a-f]{24}/dot.png)" alt="dot.png"', html_page)
    assert match is not None
    async with http.get(board.url + match.group(1)[1:]) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "image/png"
        assert response.headers["Content-Disposition"].startswith("inline;")


async def test_html_attachment_cannot_run_script(
    board: common.RunningApp, http: aiohttp.ClientSession
) -> None:
    status, _ = await post_multipart(
        http, board, "page", "evil.html", b"<script>alert(1)</script>", "text/html; charset=utf-8"
    )
    assert status == 303
    link = re.findall(r'href="(/files/[^"]+)"', await page(http, board))[0]
    async with http.get(board.url + link[1:]) as response:
        assert response.headers["Content-Type"] == "text/html"
        assert response.headers["Content-Security-Policy"] == "sandbox"
        assert response.headers["Content-Disposition"].startswith("attachment;")


async def test_empty_file_field_means_no_attachment(
    board: common.RunningApp, http: aiohttp.ClientSession
) -> None:
    # What a browser sends when no file is chosen: a part with an empty file name and no content.
    status, _ = await post_multipart(http, board, "no file", "", b"", "application/octet-stream")
    assert status == 303
    html_page = await page(http, board)
    assert listed_texts(html_page) == ["no file"]
    assert "/files/" not in html_page


async def test_too_large_attachment_is_refused(board: common.RunningApp, http: aiohttp.ClientSession) -> None:
    data = b"x" * (common.MAX_ATTACHMENT_BYTES + 1)
    status, body = await post_multipart(http, board, "big", "big.bin", data, "application/octet-stream")
    assert status == 400
    assert "The attachment is 4.0 MiB; an attachment can be at most 4.0 MiB." in body
    assert listed_texts(await page(http, board)) == []


async def test_unknown_attachment_is_404(board: common.RunningApp, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{board.url}files/{ObjectId()}/nothing.txt") as response:
        assert response.status == 404
    async with http.get(f"{board.url}files/not-an-id/nothing.txt") as response:
        assert response.status == 404


# ---------------------------------------------------------------------------------------------
# Live updates
# ---------------------------------------------------------------------------------------------


class EventReader:
    """Reads server-sent events from an open ``/events`` response."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response

    async def next_event(self) -> dict[str, str]:
        """The next event's fields (comments skipped; ``data`` lines joined with newlines)."""
        fields: dict[str, str] = {}
        while True:
            raw = await self.response.content.readline()
            assert raw, "the event stream ended"
            line = raw.decode().rstrip("\n")
            if not line:
                if fields:
                    return fields
                continue
            if line.startswith(":"):
                fields.setdefault("comments", "")
                fields["comments"] += line[1:].strip() + "\n"
                continue
            name, _, value = line.partition(": ")
            fields[name] = f"{fields[name]}\n{value}" if name == "data" and name in fields else value


@contextlib.asynccontextmanager
async def open_events(
    http: aiohttp.ClientSession,
    board: common.RunningApp,
    headers: dict[str, str] | None = None,
    query: str = "",
) -> AsyncIterator[EventReader]:
    async with http.get(f"{board.url}events{query}", headers=headers) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/event-stream; charset=utf-8"
        assert response.headers["Cache-Control"] == "no-cache"
        reader = EventReader(response)
        first = await asyncio.wait_for(reader.next_event(), 10)
        assert first == {"retry": "2000", "comments": "connected\n"}
        yield reader


async def test_events_deliver_a_new_message(board: common.RunningApp, http: aiohttp.ClientSession) -> None:
    async with open_events(http, board) as events:
        assert (await post(http, board, "hello\n<live>"))[0] == 303
        event = await asyncio.wait_for(events.next_event(), 5)
    message = await board.board.messages.find_one({})
    assert event["event"] == "message"
    assert event["id"] == str(message["_id"])
    assert event["data"] == common.render_message(message)
    assert '<p class="text">hello\n&lt;live&gt;</p>' in event["data"]


async def test_events_reach_every_listener(board: common.RunningApp, http: aiohttp.ClientSession) -> None:
    async with open_events(http, board) as first, open_events(http, board) as second:
        await post(http, board, "one")
        await post(http, board, "two")
        for events in (first, second):
            received = [await asyncio.wait_for(events.next_event(), 5) for _ in range(2)]
            assert [re.findall(r'class="text">(\w+)<', e["data"]) for e in received] == [["one"], ["two"]]


@pytest.mark.parametrize("how", ["header", "query"])
async def test_events_replay_what_was_missed(
    board: common.RunningApp, http: aiohttp.ClientSession, how: str
) -> None:
    """A reconnecting EventSource sends Last-Event-ID; the page's first connection sends ?after=."""
    for text in ("seen", "missed 1", "missed 2"):
        await post(http, board, text)
    seen = await board.board.messages.find_one({"text": "seen"})
    headers = {"Last-Event-ID": str(seen["_id"])} if how == "header" else None
    query = "" if how == "header" else f"?after={seen['_id']}"
    async with http.get(f"{board.url}events{query}", headers=headers) as response:
        reader = EventReader(response)
        await asyncio.wait_for(reader.next_event(), 10)  # The "connected" comment.
        replayed = [await asyncio.wait_for(reader.next_event(), 5) for _ in range(2)]
        assert [re.findall(r'class="text">([\w ]+)<', e["data"]) for e in replayed] == [
            ["missed 1"],
            ["missed 2"],
        ]
        await post(http, board, "live")
        event = await asyncio.wait_for(reader.next_event(), 5)
        assert '<p class="text">live</p>' in event["data"]


async def test_stopping_the_board_ends_open_event_streams(
    mongodb_uri: str, http: aiohttp.ClientSession
) -> None:
    for glue in GLUE.values():
        async with glue.Client(mongodb_uri) as client:
            app = await glue.start(client[DEMO_DB])
            async with open_events(http, app) as events:
                await asyncio.wait_for(app.stop(), 10)
                assert await asyncio.wait_for(events.response.content.read(), 5) == b""


# ---------------------------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("framework", "with_uri"),
    [("tornado", False), ("aiohttp", True)],
    ids=["tornado-own-server", "aiohttp-uri"],
)
async def test_command_line(
    mongodb_uri: str, http: aiohttp.ClientSession, framework: str, with_uri: bool
) -> None:
    """``python -m examples.messageboard``: prints the URL, serves, stops cleanly on SIGTERM.

    Without ``MONGODB_URI`` it starts SecantusDB itself (``tornado`` is the default framework).
    """
    env = dict(os.environ)
    env.pop("MONGODB_URI", None)
    args = ["--port", "0"]
    if with_uri:
        env["MONGODB_URI"] = mongodb_uri
        args += ["--framework", framework, "--database", DEMO_DB]
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-W", "error", "-m", "examples.messageboard", *args,
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert process.stdout is not None
    output = []
    try:
        while True:
            line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
            assert line, f"the board exited early: {''.join(output)}"
            output.append(line)
            found = re.search(r"Message board \((\w+)\) at (http://127\.0\.0\.1:\d+/)", line)
            if found:
                break
        assert found.group(1) == framework
        assert ("Started SecantusDB" in output[0]) is not with_uri
        async with http.post(found.group(2), data={"text": "from the command line"}) as response:
            assert response.status == 200
            assert "from the command line" in await response.text()
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        rest, _ = await asyncio.wait_for(process.communicate(), 30)
    output.append(rest.decode())
    assert process.returncode == 0, "".join(output)
    assert "Stopping the message board" in output[-1]


# ---------------------------------------------------------------------------------------------
# A real browser
# ---------------------------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
]


class CDPError(Exception):
    pass


class Browser:
    """Chromium driven over the Chrome DevTools protocol, one WebSocket, flattened sessions."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self._ids = 0
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            reply = json.loads(message.data)
            future = self._pending.pop(reply.get("id"), None)
            if future is None or future.done():
                continue  # An event: not needed here.
            if "error" in reply:
                future.set_exception(CDPError(reply["error"]))
            else:
                future.set_result(reply.get("result", {}))
        for future in self._pending.values():
            if not future.done():
                future.set_exception(CDPError("the browser closed the connection"))

    async def send(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> Any:
        self._ids += 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[self._ids] = future
        command: dict[str, Any] = {"id": self._ids, "method": method, "params": params or {}}
        if session is not None:
            command["sessionId"] = session
        await self.ws.send_str(json.dumps(command))
        return await asyncio.wait_for(future, 30)

    async def open_tab(self, url: str) -> str:
        """Open ``url`` in a new tab; return the DevTools session attached to it."""
        target = await self.send("Target.createTarget", {"url": url})
        attached = await self.send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True})
        return attached["sessionId"]  # type: ignore[no-any-return]

    async def evaluate(self, session: str, expression: str) -> Any:
        result = await self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            session,
        )
        if "exceptionDetails" in result:
            raise CDPError(result["exceptionDetails"])
        return result["result"].get("value")

    async def wait_for(self, session: str, expression: str, timeout: float = 15) -> Any:
        """Poll ``expression`` in the tab until it is truthy (navigations in between are fine)."""
        deadline = asyncio.get_running_loop().time() + timeout
        last: Any = None
        while True:
            with contextlib.suppress(CDPError):
                last = await self.evaluate(session, expression)
                if last:
                    return last
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"timed out waiting for {expression!r} (last value {last!r})")
            await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """A headless Chromium with a new empty profile, closed at the end."""
    assert CHROMIUM is not None
    with tempfile.TemporaryDirectory(prefix="motor-chromium-") as profile:
        log_path = Path(profile) / "chromium.log"
        with log_path.open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}/data", "about:blank",
                stdout=log, stderr=log, stdin=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
        try:
            # Chromium writes its DevTools port and browser path there once it listens.
            active_port = Path(profile) / "data" / "DevToolsActivePort"
            for _ in range(300):
                if active_port.exists() and len(active_port.read_text().splitlines()) >= 2:
                    break
                if process.returncode is not None:
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError(f"Chromium did not start: {log_path.read_text(errors='replace')}")
            if process.returncode is not None:
                raise AssertionError(f"Chromium exited: {log_path.read_text(errors='replace')}")
            port, path = active_port.read_text().splitlines()[:2]
            async with (
                aiohttp.ClientSession() as session,
                session.ws_connect(f"ws://127.0.0.1:{port}{path}", max_msg_size=0) as ws,
            ):
                browser = Browser(ws)
                try:
                    yield browser
                finally:
                    with contextlib.suppress(CDPError, TimeoutError, ConnectionError):
                        await asyncio.wait_for(browser.send("Browser.close"), 10)
                    browser._reader.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await browser._reader
        finally:
            if process.returncode is None:
                try:
                    await asyncio.wait_for(process.wait(), 10)
                except TimeoutError:
                    process.kill()
                    await process.wait()


#: The text of the first (newest) message on the page.
FIRST_TEXT = "document.querySelector('#messages li .text')?.textContent"


async def test_live_update_in_browser(board: common.RunningApp) -> None:
    """Post in tab A; tab B shows the message without reloading, as text, whatever it contains.

    Skipped without Chromium, unless ``MOTOR_REQUIRE_BROWSER`` is set (CI sets it once it has
    installed Chromium): then a missing browser fails the test.
    """
    if CHROMIUM is None:
        if os.environ.get("MOTOR_REQUIRE_BROWSER"):
            pytest.fail("MOTOR_REQUIRE_BROWSER is set but chromium is not on PATH")
        pytest.skip("needs Chromium: apt-get install chromium (Debian)")
    async with chromium() as browser:
        reader = await browser.open_tab(board.url)
        writer = await browser.open_tab(board.url)
        first = FIRST_TEXT
        # Tab B listens: its EventSource is open. Mark the page, to prove later it was not reloaded.
        await browser.wait_for(reader, "document.getElementById('live')?.dataset.state === 'open'")
        assert await browser.evaluate(reader, "document.getElementById('empty').hidden") is False
        await browser.evaluate(reader, "window.notReloaded = true")

        async def post_in_writer(text: str) -> None:
            await browser.wait_for(writer, "document.readyState === 'complete' && !!document.forms[0]")
            await browser.evaluate(
                writer,
                f"document.getElementById('text').value = {json.dumps(text)};"
                " document.forms[0].requestSubmit()",
            )
            # Tab A posts, follows the redirect and shows its own message.
            await browser.wait_for(writer, f"{first} === {json.dumps(text)}")

        await post_in_writer("Hello from tab A")
        await browser.wait_for(reader, f"{first} === 'Hello from tab A'", timeout=10)
        assert await browser.evaluate(reader, "window.notReloaded") is True
        assert await browser.evaluate(reader, "document.getElementById('empty').hidden") is True

        # Markup in a message arrives as text: no element is created, no script runs.
        evil = '<img src="x" onerror="window.pwned = 1"><b>bold</b>'
        await post_in_writer(evil)
        await browser.wait_for(reader, f"{first} === {json.dumps(evil)}", timeout=10)
        assert (
            await browser.evaluate(reader, "document.querySelectorAll('#messages img, #messages b').length")
            == 0
        )
        assert await browser.evaluate(reader, "typeof window.pwned") == "undefined"
        assert await browser.evaluate(reader, "window.notReloaded") is True
        texts = await browser.evaluate(
            reader, "Array.from(document.querySelectorAll('#messages li .text'), e => e.textContent)"
        )
        assert texts == [evil, "Hello from tab A"]
