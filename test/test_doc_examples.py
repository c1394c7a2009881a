"""The documentation's examples run: every ``.. code-block:: python`` of the pages below.

Each page runs as one session, top to bottom, in a namespace of its own, as a reader would type
its examples into one program: a block may use what an earlier block defined. ``localhost:27017``
is replaced by the suite's server. A block with a bare ``await`` (``async for``, ``async with``)
runs as the body of a coroutine on the session's event loop, as the pages say their snippets do;
any other block runs as plain code with no loop running, so ``asyncio.run()`` and
``IOLoop.run_sync()`` work in it. Clients left open by a page are closed at its end.

An RST comment just before a block tells how to run it, when running it plainly would not do:

``.. doc-test: skip REASON``
    Not run (a fragment that cannot run on its own); the reason is required.

``.. doc-test: run-app REQUESTS``
    The block ends with aiohttp's ``web.run_app(app)``, which would serve forever: the app is served
    on a free port of the session's loop instead, the requests are made, and the app stops.

``.. doc-test: serve PORT REQUESTS``
    The block is a server program listening on ``PORT``: it runs in a process of its own, on a free
    port put in place of ``PORT``, until the requests have been answered.

``.. doc-test: program``
    The block is a program: it runs in a process of its own (a process runs one Twisted reactor),
    which must exit with status 0 and print no warning or traceback.

``.. doc-test: page-program``
    The block ends a program made of the page's blocks so far that ran plainly: they run with it as
    ``program`` says.

``REQUESTS`` is a ``;``-separated list of ``METHOD PATH [JSON body] [-> STATUS]``; each must answer
``STATUS`` (by default, any 2xx). The pages use the databases in :data:`DATABASES`, which are
dropped before each page runs.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import inspect
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import aiohttp
import aiohttp.web
import pytest
from pymongo import MongoClient

from motor.core import AgnosticClient, AgnosticCollection, AgnosticDatabase
from motor.testing import free_port

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "doc"

#: The pages whose examples run.
PAGES = [
    "index",
    "tutorial-asyncio",
    "tutorial-tornado",
    "tutorial-aiohttp",
    "tutorial-trio",
    "tutorial-twisted",
    "api/motor_anyio",
    "migrating-from-motor3",
    "pymongo-async",
    "cancellation",
]

#: Databases the pages' examples use; dropped before each page.
DATABASES = ["shop", "bank", "notes_app", "test", "encryption", "solar_system"]

LOCAL_URI = re.compile(r"mongodb://localhost:27017(/\?[^\"'\s]*)?")
DIRECTIVE = re.compile(r"^\.\. doc-test:\s*(?P<mode>[\w-]+)\s*(?P<rest>.*)$")
CODE_BLOCK = re.compile(r"^(?P<indent>\s*)\.\. code-block:: python\s*$")


@dataclass
class Block:
    page: str
    line: int  # 1-based line of the code-block directive.
    source: str
    mode: str = "run"
    argument: str = ""

    @property
    def where(self) -> str:
        return f"doc/{self.page}.rst:{self.line}"


@dataclass
class Request:
    method: str
    path: str
    body: Any = None
    status: int | None = None  # None: any 2xx.

    def check(self, status: int, text: str) -> None:
        ok = status == self.status if self.status is not None else 200 <= status < 300
        assert ok, f"{self.method} {self.path} answered {status}: {text[:500]}"


def parse_requests(spec: str) -> list[Request]:
    requests = []
    for item in filter(None, (part.strip() for part in spec.split(";"))):
        call, _, status = item.partition("->")
        method, path, *body = call.split(None, 2)
        requests.append(
            Request(
                method.upper(),
                path,
                json.loads(body[0]) if body else None,
                int(status) if status.strip() else None,
            )
        )
    return requests


def extract_blocks(page: str) -> list[Block]:
    """The page's Python code blocks, each with the ``doc-test`` comment before it, if any."""
    lines = (DOC / f"{page}.rst").read_text().splitlines()
    blocks = []
    pending: tuple[str, str] | None = None
    index = 0
    while index < len(lines):
        line = lines[index]
        directive = DIRECTIVE.match(line.strip())
        if directive:
            pending = directive["mode"], directive["rest"].strip()
            index += 1
            continue
        match = CODE_BLOCK.match(line)
        if not match:
            if line.strip() and pending is not None:
                raise AssertionError(f"doc/{page}.rst:{index + 1}: a doc-test comment must precede a block")
            index += 1
            continue
        start = index + 1
        outer = len(match["indent"])
        index += 1
        # Skip the directive's options, then take the indented body.
        while index < len(lines) and lines[index].strip().startswith(":"):
            index += 1
        body: list[str] = []
        while index < len(lines) and (not lines[index].strip() or _indent(lines[index]) > outer):
            body.append(lines[index])
            index += 1
        code = _dedent(body)
        block = Block(page, start, code)
        if pending is not None:
            block.mode, block.argument = pending
            pending = None
        blocks.append(block)
    return blocks


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _dedent(body: list[str]) -> str:
    while body and not body[-1].strip():
        body.pop()
    while body and not body[0].strip():
        body.pop(0)
    width = min((_indent(line) for line in body if line.strip()), default=0)
    return "\n".join(line[width:] for line in body) + "\n"


# ---------------------------------------------------------------------------------------------
# Running a page
# ---------------------------------------------------------------------------------------------


class PageSession:
    """One page's examples, run in order in one namespace, with one event loop for ``await``."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.namespace: dict[str, Any] = {"__name__": "__doc__"}
        #: The sources of the blocks that ran plainly, in order: the start of a ``program``.
        self.ran: list[str] = []
        self.clients: dict[int, AgnosticClient] = {}
        self.runner = asyncio.Runner()
        self.runner.get_loop()  # Set the thread's event loop, as a script's first await would.

    def source(self, block: Block) -> str:
        return LOCAL_URI.sub(self.uri, block.source)

    def run(self, block: Block) -> None:
        if block.mode == "skip":
            assert block.argument, f"{block.where}: a skipped block needs a reason"
            return
        if block.mode == "serve":
            port, _, requests = block.argument.partition(" ")
            serve_in_process(self.source(block), int(port), parse_requests(requests), block.where)
            return
        if block.mode in ("program", "page-program"):
            earlier = self.ran if block.mode == "page-program" else []
            run_program("\n".join([*earlier, self.source(block)]), block.where)
            return
        if block.mode == "run-app":
            with mock.patch.object(aiohttp.web, "run_app", self._run_app(parse_requests(block.argument))):
                self._execute(block)
            return
        assert block.mode == "run", f"{block.where}: unknown doc-test mode {block.mode!r}"
        self._execute(block)
        self.ran.append(self.source(block))

    def _execute(self, block: Block) -> None:
        code = compile(self.source(block), block.where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        try:
            if code.co_flags & inspect.CO_COROUTINE:
                self.runner.run(asyncio.wait_for(eval(code, self.namespace), 60))
            else:
                exec(code, self.namespace)
        finally:
            self._keep_clients()

    def _keep_clients(self) -> None:
        """Remember the clients the page has made so far, to close them even if it rebinds names."""
        for value in list(self.namespace.values()):
            client = value
            if isinstance(value, AgnosticCollection):
                client = value.database.client
            elif isinstance(value, AgnosticDatabase):
                client = value.client
            if isinstance(client, AgnosticClient):
                self.clients[id(client)] = client

    def _run_app(self, requests: list[Request]) -> Any:
        def run_app(app: aiohttp.web.Application, *args: Any, **kwargs: Any) -> None:
            self.runner.run(asyncio.wait_for(serve_app(app, requests), 60))

        return run_app

    def close(self) -> None:
        """Close the clients the page left open, then the event loop."""
        self._keep_clients()
        for client in self.clients.values():
            if type(client).__module__ == "motor.motor_twisted":
                # Their loop is a reactor, which this session does not run; outside it, close()
                # closes at once.
                client.close()
            else:
                self.runner.run(client.aclose())
        self.runner.close()


async def serve_app(app: aiohttp.web.Application, requests: list[Request]) -> None:
    runner = aiohttp.web.AppRunner(app)
    await runner.setup()
    try:
        site = aiohttp.web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        async with aiohttp.ClientSession(f"http://{host}:{port}") as http:
            for request in requests:
                async with http.request(request.method, request.path, json=request.body) as response:
                    request.check(response.status, await response.text())
    finally:
        await runner.cleanup()


def serve_in_process(source: str, port: int, requests: list[Request], where: str) -> None:
    """Run a server program in a process of its own, on a free port, for ``requests``."""
    new_port = free_port()
    source = re.sub(rf"\b{port}\b", str(new_port), source)
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen(
            [sys.executable, "-W", "error", "-c", source],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_for_port(new_port, process, output, where)
            for request in requests:
                data = None if request.body is None else json.dumps(request.body).encode()
                http_request = urllib.request.Request(
                    f"http://127.0.0.1:{new_port}{request.path}", data=data, method=request.method
                )
                try:
                    with urllib.request.urlopen(http_request, timeout=30) as response:
                        request.check(response.status, response.read().decode(errors="replace"))
                except urllib.error.HTTPError as error:
                    with error:
                        request.check(error.code, error.read().decode(errors="replace"))
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def run_program(source: str, where: str) -> None:
    """Run a program in a process of its own; it must succeed and print no warning or traceback."""
    process = subprocess.run(
        [sys.executable, "-W", "error", "-c", source],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    printed = process.stdout + process.stderr
    assert process.returncode == 0, f"{where}: the program exited with {process.returncode}:\n{printed}"
    for noise in ("Traceback", "Warning", "Unhandled error"):
        assert noise not in printed, f"{where}: the program printed {noise!r}:\n{printed}"


def _wait_for_port(port: int, process: subprocess.Popen[bytes], output: Any, where: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output.seek(0)
            printed = output.read().decode(errors="replace")
            raise AssertionError(f"{where}: the server exited with {process.returncode}: {printed}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise AssertionError(f"{where}: the server did not listen on port {port}")


@contextlib.contextmanager
def page_session(uri: str) -> Iterator[PageSession]:
    session = PageSession(uri)
    try:
        yield session
    finally:
        session.close()


# ---------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def clean_databases(sync_client: MongoClient[dict[str, Any]]) -> None:
    for name in DATABASES:
        sync_client.drop_database(name)


@pytest.mark.parametrize("page", PAGES)
def test_page_examples_run(page: str, mongodb_uri: str, clean_databases: None) -> None:
    blocks = extract_blocks(page)
    assert blocks, f"doc/{page}.rst has no Python example"
    with page_session(mongodb_uri) as session:
        for block in blocks:
            try:
                session.run(block)
            except BaseException as exc:
                exc.add_note(f"in the example at {block.where}:\n{block.source}")
                raise


def test_extraction_sees_markers_and_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The extractor reads directives, options, indented blocks and doc-test comments."""
    page = tmp_path / "page.rst"
    page.write_text(
        "Title\n=====\n\n"
        ".. code-block:: python\n   :caption: one\n\n   x = 1\n\n   y = 2\n\nText.\n\n"
        ".. doc-test: skip a fragment\n\n"
        ".. code-block:: python\n\n    await z\n\n"
        "- item\n\n  .. code-block:: python\n\n      nested = True\n\n"
        ".. code-block:: console\n\n   $ ignored\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "DOC", tmp_path)
    blocks = extract_blocks("page")
    assert [(b.line, b.source, b.mode, b.argument) for b in blocks] == [
        (4, "x = 1\n\ny = 2\n", "run", ""),
        (15, "await z\n", "skip", "a fragment"),
        (21, "nested = True\n", "run", ""),
    ]


def test_request_specs() -> None:
    assert parse_requests('GET /a; POST /b {"x": [1, 2]} -> 201 ;') == [
        Request("GET", "/a"),
        Request("POST", "/b", {"x": [1, 2]}, 201),
    ]
