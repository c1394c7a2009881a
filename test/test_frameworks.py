"""The framework modules' interface, and a third-party framework built on it.

Libraries built on Motor call the framework helpers with the framework's own loop, the one
``get_event_loop()`` returns: an asyncio loop for asyncio, an ``IOLoop`` for Tornado.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import importlib
import threading
import tomllib
from collections.abc import AsyncIterator, Generator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import tornado
from pymongo.synchronous.database import Database
from tornado import gen
from tornado.ioloop import IOLoop

from motor import core, motor_asyncio, motor_tornado
from motor.frameworks import (
    AGNOSTIC_CLASSES,
    FRAMEWORKS,
    RegisteredFramework,
    generate_classes,
    registered,
)
from motor.frameworks import asyncio as asyncio_framework
from motor.frameworks import tornado as tornado_framework
from motor.frameworks.interface import Framework
from motor.metaprogramming import create_class_with_framework
from test.support import DB_NAME, FLAVORS

INTERFACE = [
    "CLASS_PREFIX",
    "add_future",
    "call_soon",
    "chain_future",
    "chain_return_value",
    "check_event_loop",
    "coroutine",
    "get_event_loop",
    "get_future",
    "is_event_loop",
    "is_future",
    "platform_info",
    "pymongo_class_wrapper",
    "run_on_executor",
    "yieldable",
]


@pytest.fixture(params=FLAVORS, ids=str)
def framework(request: pytest.FixtureRequest) -> ModuleType:
    """Each framework module of the registry in turn."""
    return request.param.framework  # type: ignore[no-any-return]


@pytest.fixture
async def framework_loop(framework: ModuleType) -> Any:
    """The framework's loop, as a library gets it: ``framework.get_event_loop()``."""
    return framework.get_event_loop()


def test_interface_is_complete(framework: ModuleType) -> None:
    missing = [name for name in INTERFACE if not hasattr(framework, name)]
    assert not missing
    assert isinstance(framework, Framework)


@pytest.mark.parametrize("entry", FRAMEWORKS, ids=lambda entry: entry.name)
def test_registry_entry_matches_its_modules(entry: RegisteredFramework) -> None:
    framework = entry.framework()
    assert entry.class_prefix == framework.CLASS_PREFIX
    module = entry.classes()
    expected = sorted(
        entry.class_name(getattr(importlib.import_module(module_name), class_name).__motor_class_name__)
        for module_name, class_name in AGNOSTIC_CLASSES
    )
    assert module.__all__ == expected
    for name in expected:
        cls = getattr(module, name)
        assert cls._framework is framework
        assert cls.__module__ == entry.classes_module


def test_registry_names_are_unique_and_extras_exist() -> None:
    assert len({entry.name for entry in FRAMEWORKS}) == len(FRAMEWORKS)
    assert len({entry.class_prefix for entry in FRAMEWORKS}) == len(FRAMEWORKS)
    pyproject = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())
    extras = pyproject["project"]["optional-dependencies"]
    assert [
        entry.extra for entry in FRAMEWORKS if entry.extra is not None and entry.extra not in extras
    ] == []


def test_registry_lookup() -> None:
    assert registered("tornado").classes_module == "motor.motor_tornado"
    assert registered("trio").runs == ("trio",)
    assert registered("twisted").future == "motor.frameworks.twisted.TwistedFuture"
    with pytest.raises(LookupError, match="no framework named 'curio'"):
        registered("curio")


def test_generate_classes_checks_the_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(asyncio_framework, "CLASS_PREFIX", "Other")
    with pytest.raises(ValueError, match="CLASS_PREFIX is 'Other', but the registry says 'AsyncIO'"):
        generate_classes("asyncio")


def test_class_prefix_names_the_classes() -> None:
    assert asyncio_framework.CLASS_PREFIX == "AsyncIO"
    assert tornado_framework.CLASS_PREFIX == ""
    assert motor_asyncio.AsyncIOMotorClient._framework is asyncio_framework
    assert motor_tornado.MotorClient._framework is tornado_framework


def test_platform_info() -> None:
    assert asyncio_framework.platform_info() == "asyncio"
    assert tornado_framework.platform_info() == f"Tornado {tornado.version}"


async def test_get_event_loop_and_is_event_loop() -> None:
    loop = asyncio.get_running_loop()
    assert asyncio_framework.get_event_loop() is loop
    io_loop = tornado_framework.get_event_loop()
    assert isinstance(io_loop, IOLoop)
    assert tornado_framework.engine_loop(io_loop) is loop
    assert io_loop is IOLoop.current()

    assert asyncio_framework.is_event_loop(loop) and not asyncio_framework.is_event_loop(io_loop)
    assert tornado_framework.is_event_loop(io_loop) and not tornado_framework.is_event_loop(loop)
    for framework, wrong in [(asyncio_framework, io_loop), (tornado_framework, loop)]:
        assert not framework.is_event_loop(None)
        with pytest.raises(TypeError, match="io_loop must be"):
            framework.check_event_loop(wrong)
        with pytest.raises(TypeError):
            framework.get_event_loop(wrong)
    asyncio_framework.check_event_loop(loop)
    tornado_framework.check_event_loop(io_loop)
    # A given loop is returned as it is.
    assert tornado_framework.get_event_loop(io_loop) is io_loop
    assert asyncio_framework.get_event_loop(loop) is loop


def test_get_event_loop_without_a_loop(framework: ModuleType) -> None:
    errors: list[BaseException] = []

    def in_thread() -> None:
        try:
            framework.get_event_loop()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join(10)
    assert len(errors) == 1 and isinstance(errors[0], RuntimeError), errors


async def test_get_future_and_is_future(framework: ModuleType, framework_loop: Any) -> None:
    future = framework.get_future(framework_loop)
    assert framework.is_future(future)
    assert not future.done()
    assert future.get_loop() is asyncio.get_running_loop()
    future.set_result(3)
    assert await future == 3

    async def coro() -> None:
        pass

    pending = coro()
    assert not framework.is_future(pending)
    pending.close()
    assert not framework.is_future(3)


async def test_call_soon_runs_on_the_loop_thread(framework: ModuleType, framework_loop: Any) -> None:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[tuple[Any, ...]] = loop.create_future()

    def callback(*args: Any, **kwargs: Any) -> None:
        done.set_result((threading.get_ident(), args, kwargs))

    errors: list[BaseException] = []

    def from_worker() -> None:
        try:
            framework.call_soon(framework_loop, callback, 1, 2, k=3)
        except BaseException as exc:
            errors.append(exc)

    # From another thread, as a worker would.
    thread = threading.Thread(target=from_worker)
    thread.start()
    thread.join(10)
    if errors:
        raise errors[0]
    assert await asyncio.wait_for(done, 10) == (threading.get_ident(), (1, 2), {"k": 3})


async def test_add_future_calls_back_with_the_future(framework: ModuleType, framework_loop: Any) -> None:
    loop = asyncio.get_running_loop()
    future: asyncio.Future[int] = loop.create_future()
    called: asyncio.Future[tuple[Any, ...]] = loop.create_future()
    framework.add_future(framework_loop, future, lambda *args: called.set_result(args), "arg")
    await asyncio.sleep(0)
    assert not called.done()
    future.set_result(5)
    args = await asyncio.wait_for(called, 10)
    assert args == ("arg", future)


async def test_chain_future_copies_result_and_exception(framework: ModuleType) -> None:
    loop = asyncio.get_running_loop()
    a: asyncio.Future[int] = loop.create_future()
    b: asyncio.Future[int] = loop.create_future()
    framework.chain_future(a, b)
    a.set_result(7)
    assert await asyncio.wait_for(b, 10) == 7

    c: asyncio.Future[int] = loop.create_future()
    d: asyncio.Future[int] = loop.create_future()
    framework.chain_future(c, d)
    error = ValueError("boom")
    c.set_exception(error)
    with pytest.raises(ValueError, match="boom") as raised:
        await asyncio.wait_for(d, 10)
    assert raised.value is error


async def test_chain_return_value(framework: ModuleType, framework_loop: Any) -> None:
    loop = asyncio.get_running_loop()
    source: asyncio.Future[int] = loop.create_future()
    chained = framework.chain_return_value(source, framework_loop, "value")
    assert not chained.done()
    source.set_result(1)
    assert await asyncio.wait_for(chained, 10) == "value"

    failing: asyncio.Future[int] = loop.create_future()
    chained = framework.chain_return_value(failing, framework_loop, "value")
    failing.set_exception(KeyError("k"))
    with pytest.raises(KeyError):
        await asyncio.wait_for(chained, 10)


async def test_run_on_executor_uses_another_thread(framework: ModuleType, framework_loop: Any) -> None:
    def work(a: int, *, b: int) -> tuple[int, int]:
        return threading.get_ident(), a + b

    future = framework.run_on_executor(framework_loop, work, 1, b=2)
    assert framework.is_future(future)
    thread_id, total = await asyncio.wait_for(future, 10)
    assert total == 3
    assert thread_id != threading.get_ident()

    def fail() -> None:
        raise LookupError("from the worker")

    with pytest.raises(LookupError, match="from the worker"):
        await asyncio.wait_for(framework.run_on_executor(framework_loop, fail), 10)


async def test_pymongo_class_wrapper(flavor: Any, client: Any) -> None:
    framework = type(client)._framework

    class Holder:
        def __init__(self) -> None:
            self.wrap = client.wrap

        async def get(self, value: Any) -> Any:
            return value

    wrapped_get = framework.pymongo_class_wrapper(Holder.get, Database)
    holder = Holder()
    database = await wrapped_get(holder, client.delegate[DB_NAME])
    assert type(database) is flavor.cls("Database") and database.name == DB_NAME
    assert await wrapped_get(holder, 42) == 42


def generator_double(x: int) -> Generator[Any, Any, int]:
    # Tornado's coroutines were generators yielding futures.
    yield gen.moment
    return 2 * x


async def async_double(x: int) -> int:
    await asyncio.sleep(0)
    return 2 * x


async def test_deprecated_coroutine(framework: ModuleType) -> None:
    double = generator_double if framework is tornado_framework else async_double
    with pytest.warns(DeprecationWarning, match="coroutine is deprecated"):
        decorated = framework.coroutine(double)
    assert await decorated(4) == 8


async def test_deprecated_yieldable(framework: ModuleType) -> None:
    future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    with pytest.warns(DeprecationWarning, match="yieldable"):
        assert framework.yieldable(future) is future
    future.set_result(1)
    assert await future == 1


# ---------------------------------------------------------------------------------------------
# A framework from a third party
# ---------------------------------------------------------------------------------------------


class CustomFuture:
    """A Future of the engine's shape that is not an asyncio Future, as trio or Twisted need."""

    def __init__(self, loop: CustomLoop) -> None:
        self._loop = loop
        # What an asyncio task can await: the custom Future resolves it, and learns of the
        # caller's cancellation from it.
        self._waiter = loop.asyncio_loop.create_future()
        self._waiter.add_done_callback(self._on_waiter_done)
        self._callbacks: list[Any] = []

    def _on_waiter_done(self, waiter: asyncio.Future[Any]) -> None:
        for callback in self._callbacks:
            callback(self)

    def done(self) -> bool:
        return self._waiter.done()

    def cancelled(self) -> bool:
        return self._waiter.cancelled()

    def cancel(self) -> bool:
        return self._waiter.cancel()

    def result(self) -> Any:
        return self._waiter.result()

    def exception(self) -> BaseException | None:
        return self._waiter.exception()

    def set_result(self, result: Any, /) -> None:
        self._waiter.set_result(result)

    def set_exception(self, exception: BaseException, /) -> None:
        self._waiter.set_exception(exception)

    def add_done_callback(self, fn: Any, /) -> None:
        self._callbacks.append(fn)

    def get_loop(self) -> CustomLoop:
        return self._loop

    def __await__(self) -> Generator[Any, None, Any]:
        return self._waiter.__await__()


class CustomLoop:
    """The engine's view of one asyncio loop, wrapped as a framework without asyncio would."""

    def __init__(self, asyncio_loop: asyncio.AbstractEventLoop) -> None:
        self.asyncio_loop = asyncio_loop
        self.futures = 0

    def create_future(self) -> CustomFuture:
        self.futures += 1
        return CustomFuture(self)

    def call_soon_threadsafe(self, callback: Any, /, *args: Any) -> object:
        return self.asyncio_loop.call_soon_threadsafe(callback, *args)

    def is_closed(self) -> bool:
        return self.asyncio_loop.is_closed()

    def call_exception_handler(self, context: dict[str, Any], /) -> None:
        self.asyncio_loop.call_exception_handler(context)


class CustomFramework:
    """A framework as a third party could write it, whose loop and Futures are its own."""

    CLASS_PREFIX = "Custom"
    CancelledError = asyncio.CancelledError

    def __init__(self) -> None:
        self.loops: dict[asyncio.AbstractEventLoop, CustomLoop] = {}

    def is_event_loop(self, loop: object) -> bool:
        return asyncio_framework.is_event_loop(loop)

    def check_event_loop(self, loop: object) -> None:
        asyncio_framework.check_event_loop(loop)

    def get_event_loop(self, io_loop: Any = None) -> Any:
        return asyncio_framework.get_event_loop(io_loop)

    def running_loop(self) -> CustomLoop | None:
        loop = asyncio_framework.running_loop()
        return None if loop is None else self.engine_loop(loop)

    def engine_loop(self, io_loop: Any) -> CustomLoop:
        if io_loop not in self.loops:
            self.loops[io_loop] = CustomLoop(io_loop)
        return self.loops[io_loop]

    def spawn(self, loop: Any, coroutine: Any) -> Any:
        return loop.asyncio_loop.create_task(coroutine)

    def sleep(self, seconds: float) -> Any:
        return asyncio.sleep(seconds)

    def shielded(self) -> Any:
        return contextlib.nullcontext()

    def platform_info(self) -> str:
        return "Custom 1.0"


CUSTOM = CustomFramework()


@pytest.fixture
async def custom_client(mongodb_uri: str) -> AsyncIterator[Any]:
    client_class = create_class_with_framework(core.AgnosticClient, CUSTOM, "my.module")
    client = client_class(mongodb_uri)
    yield client
    await client.aclose()


async def test_custom_framework_classes_work(custom_client: Any) -> None:
    client_class = type(custom_client)
    assert client_class.__name__ == "CustomMotorClient"
    assert client_class.__module__ == "my.module"
    assert isinstance(custom_client, core.AgnosticClient)
    # The handshake names the framework.
    assert custom_client.options.pool_options.metadata["platform"].endswith("|Custom 1.0")

    coll = custom_client[DB_NAME].custom_framework
    assert type(coll).__name__ == "CustomMotorCollection"
    assert type(coll.database).__name__ == "CustomMotorDatabase"
    await coll.drop()
    result = await coll.insert_one({"x": 1})
    assert await coll.find_one() == {"_id": result.inserted_id, "x": 1}
    cursor = coll.find()
    assert type(cursor).__name__ == "CustomMotorCursor"
    assert [doc["x"] async for doc in cursor] == [1]


async def test_engine_uses_only_the_framework_interface(custom_client: Any, mongodb_uri: str) -> None:
    """Every awaitable comes from the framework's own loop, and its cancellation reaches the engine."""
    coll = custom_client[DB_NAME].custom_framework_interface
    await coll.drop()
    loop = CUSTOM.engine_loop(asyncio.get_running_loop())
    before = loop.futures
    pending = coll.insert_many([{"i": i} for i in range(3)])
    assert isinstance(pending, CustomFuture)
    await pending
    assert isinstance(coll.find_one(), CustomFuture)
    assert [doc["i"] for doc in await coll.find().sort("i").to_list()] == [0, 1, 2]
    assert isinstance(coll.find().to_list(0), CustomFuture)  # Resolved without a worker.
    assert [doc["i"] async for doc in coll.find().sort("i").batch_size(1)] == [0, 1, 2]
    async with await custom_client.start_session() as session, session.start_transaction():
        await coll.insert_one({"i": 3}, session=session)
    assert await coll.count_documents({}) == 4
    assert loop.futures > before

    # A call cancelled through the framework's Future before a worker takes it never runs.
    small = type(custom_client)(mongodb_uri, max_workers=2)
    try:
        blocker = threading.Event()
        held = [small._engine.run(blocker.wait, 5) for _ in range(2)]
        cancelled = small[DB_NAME].custom_framework_interface.insert_one({"i": "never"})
        assert cancelled.cancel()
        blocker.set()
        for future in held:
            await future
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        await small.admin.command("ping")  # Queued after the cancelled call.
    finally:
        await small.aclose()
    assert await coll.count_documents({"i": "never"}) == 0


def test_classes_are_cached() -> None:
    first = create_class_with_framework(core.AgnosticClient, CUSTOM, "my.module")
    assert create_class_with_framework(core.AgnosticClient, CUSTOM, "my.module") is first
    assert create_class_with_framework(core.AgnosticCollection, CUSTOM, "my.module").__name__ == (
        "CustomMotorCollection"
    )
    assert (
        create_class_with_framework(core.AgnosticClient, asyncio_framework, "motor.motor_asyncio")
        is motor_asyncio.AsyncIOMotorClient
    )
    assert (
        create_class_with_framework(core.AgnosticCursor, tornado_framework, "motor.motor_tornado")
        is motor_tornado.MotorCursor
    )


def test_object_without_the_interface_is_refused() -> None:
    class Incomplete:
        CLASS_PREFIX = "Incomplete"

        def is_event_loop(self, loop: object) -> bool:
            return True

        def get_event_loop(self, io_loop: Any = None) -> Any:
            return io_loop

    for framework in (Incomplete(), object(), "asyncio"):
        with pytest.raises(TypeError, match="Framework"):
            create_class_with_framework(core.AgnosticClient, framework, "my.module")


@pytest.mark.parametrize("module", ["motor.core", "motor.motor_gridfs", "motor._engine"])
def test_framework_agnostic_modules_use_no_loop_api(module: str) -> None:
    """Only the framework modules know a loop library: the engine reaches loops through the Protocol."""
    source = Path(importlib.import_module(module).__file__ or "").read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.partition(".")[0])
    assert not imported & {"asyncio", "tornado", "trio", "twisted", "anyio"}, imported
