"""What the tests share besides fixtures: the flavors (one framework's classes on one kind of loop),
the test database's name, a command listener and fail points.

The fixtures that use them (``flavor``, ``client``, ``db``, ``coll``, ...) are in ``conftest.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any, cast

from pymongo import MongoClient, monitoring

from motor.frameworks import FRAMEWORKS, RegisteredFramework

DB_NAME = "motor_test"


@dataclass(frozen=True)
class Flavor:
    """One framework's generated classes on one kind of loop, as a test sees them."""

    #: The test id: the framework's name, and the loop's if the framework runs on several
    #: ("asyncio", "anyio-trio").
    name: str
    #: The module of generated classes (``motor.motor_asyncio``).
    module: ModuleType
    #: The framework module (``motor.frameworks.asyncio``).
    framework: ModuleType
    prefix: str
    #: What the test runs in: "asyncio" (pytest-asyncio's loop), "trio" or "twisted".
    run: str
    #: The framework's name in the registry ("anyio" for both anyio flavors).
    framework_name: str

    @classmethod
    def each_of(cls, entry: RegisteredFramework) -> list[Flavor]:
        return [
            cls(
                entry.name if len(entry.runs) == 1 else f"{entry.name}-{run}",
                entry.classes(),
                entry.framework(),
                entry.class_prefix,
                run,
                entry.name,
            )
            for run in entry.runs
        ]

    def cls(self, short_name: str) -> Any:
        """The class named ``short_name`` ("Client", "Cursor", "GridFSBucket", ...) of this framework."""
        return getattr(self.module, f"{self.prefix}Motor{short_name}")

    @property
    def Client(self) -> Any:
        return self.cls("Client")

    def current_loop(self) -> Any:
        """The running loop, as the framework names it (what ``client.get_io_loop()`` returns)."""
        if self.name == "tornado":
            from tornado.ioloop import IOLoop

            return IOLoop.current()
        if self.run == "asyncio":
            return asyncio.get_running_loop()
        if self.run == "trio":
            import trio

            return trio.lowlevel.current_trio_token()
        from twisted.internet import reactor

        return reactor

    def foreign_loop(self) -> Any:
        """An event loop of another framework, which this flavor's classes refuse as ``io_loop``."""
        if self.name == "asyncio":
            from tornado.ioloop import IOLoop

            return IOLoop.current()
        if self.name == "tornado":
            return asyncio.get_running_loop()
        if self.framework_name == "anyio":
            from twisted.internet import reactor

            return reactor
        return _closed_asyncio_loop()

    @property
    def platform_name(self) -> str:
        """What the client's handshake names as its platform ("asyncio", "Tornado", "trio", ...)."""
        return {"tornado": "Tornado", "twisted": "Twisted"}.get(self.framework_name, self.framework_name)

    async def sleep(self, seconds: float) -> None:
        """Sleep in the test's loop."""
        await self.framework.sleep(seconds)

    async def gather(self, *awaitables: Any) -> list[Any]:
        """Await ``awaitables`` concurrently, as :func:`asyncio.gather` does; return their results.

        The first exception raised is raised (the others are discarded).
        """
        if self.run == "asyncio":
            return list(await asyncio.gather(*awaitables))
        results: list[Any] = [None] * len(awaitables)
        if self.run == "trio":
            import trio

            async def one(index: int, awaitable: Any) -> None:
                results[index] = await awaitable

            try:
                async with trio.open_nursery() as nursery:
                    for index, awaitable in enumerate(awaitables):
                        nursery.start_soon(one, index, awaitable)
            except BaseExceptionGroup as group:
                raise group.exceptions[0] from None
            return results
        from twisted.internet.defer import FirstError, ensureDeferred, gatherResults

        try:
            return list(await gatherResults([ensureDeferred(a) for a in awaitables], consumeErrors=True))
        except FirstError as error:
            raise cast(BaseException, error.subFailure.value) from None

    async def wait_for(self, awaitable: Any, seconds: float) -> Any:
        """Await ``awaitable``; after ``seconds``, cancel it as the framework cancels and raise TimeoutError.

        That is :func:`asyncio.wait_for`, a cancel scope of trio or anyio (``fail_after``), or
        Twisted's :meth:`~twisted.internet.defer.Deferred.addTimeout`, which cancels the Deferred.
        """
        if self.framework_name == "anyio":
            import anyio

            with anyio.fail_after(seconds):
                return await awaitable
        if self.run == "asyncio":
            return await asyncio.wait_for(awaitable, seconds)
        if self.run == "trio":
            import trio

            try:
                with trio.fail_after(seconds):
                    return await awaitable
            except trio.TooSlowError:
                raise TimeoutError(f"not done in {seconds} s") from None
        from twisted.internet import defer, reactor

        deferred = defer.ensureDeferred(awaitable)
        deferred.addTimeout(seconds, reactor)
        try:
            return await deferred
        except defer.TimeoutError:
            raise TimeoutError(f"not done in {seconds} s") from None

    def __str__(self) -> str:
        return self.name


def _closed_asyncio_loop() -> asyncio.AbstractEventLoop:
    """An asyncio loop, closed at once: frameworks refuse it by its type, and it leaves nothing open."""
    loop = asyncio.new_event_loop()
    loop.close()
    return loop


#: One flavor per framework of the registry and loop it runs on, in the registry's order.
EVERY_FLAVOR: tuple[Flavor, ...] = tuple(flavor for entry in FRAMEWORKS for flavor in Flavor.each_of(entry))
#: The flavors of the frameworks built on asyncio alone (asyncio, Tornado): those of the tests written
#: with asyncio's API.
FLAVORS: tuple[Flavor, ...] = tuple(
    flavor for entry in FRAMEWORKS if entry.runs == ("asyncio",) for flavor in Flavor.each_of(entry)
)
FLAVORS_BY_NAME = {flavor.name: flavor for flavor in FLAVORS}
#: One flavor per framework of the registry, for tests that need no running loop (completeness).
ALL_FLAVORS: tuple[Flavor, ...] = tuple(
    dataclasses.replace(Flavor.each_of(entry)[0], name=entry.name) for entry in FRAMEWORKS
)
#: The two flavors that tests of one framework's own behaviour (Tornado's IOLoop, ...) single out.
ASYNCIO = FLAVORS_BY_NAME["asyncio"]
TORNADO = FLAVORS_BY_NAME["tornado"]


class CommandLog(monitoring.CommandListener):
    """Records a client's command events."""

    def __init__(self) -> None:
        self.started_events: list[monitoring.CommandStartedEvent] = []
        self.succeeded_events: list[monitoring.CommandSucceededEvent] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.started_events.append(event)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self.succeeded_events.append(event)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def started_count(self, name: str) -> int:
        return sum(1 for e in self.started_events if e.command_name == name)

    def succeeded_count(self, name: str) -> int:
        return sum(1 for e in self.succeeded_events if e.command_name == name)

    def killed_cursors(self) -> set[int]:
        """Ids of the cursors that a successful ``killCursors`` killed."""
        return {
            cursor_id
            for e in self.succeeded_events
            if e.command_name == "killCursors"
            for cursor_id in e.reply.get("cursorsKilled", [])
        }

    def opened_cursors(self, name: str) -> list[int]:
        """Ids of the cursors that successful ``name`` commands opened."""
        return [
            e.reply["cursor"]["id"]
            for e in self.succeeded_events
            if e.command_name == name and e.reply.get("cursor", {}).get("id")
        ]

    def session_ids(self) -> set[bytes]:
        return {bytes(e.command["lsid"]["id"]) for e in self.started_events if "lsid" in e.command}


@contextlib.contextmanager
def fail_command(
    sync_client: MongoClient[Any], app_name: str, commands: list[str], **data: Any
) -> Iterator[None]:
    """Make the next ``times`` (default 1) of ``commands`` from ``app_name`` fail as ``data`` says.

    Scoping the fail point to the test's own ``appName`` keeps other clients out of it.
    """
    times = data.pop("times", 1)
    sync_client.admin.command(
        "configureFailPoint",
        "failCommand",
        mode={"times": times},
        data={"failCommands": commands, "appName": app_name, **data},
    )
    try:
        yield
    finally:
        sync_client.admin.command("configureFailPoint", "failCommand", mode="off")
