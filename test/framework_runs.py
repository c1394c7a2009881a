"""Runs of trio and Twisted that a test, and its async fixtures, execute in.

pytest-asyncio runs the behaviour tests of the frameworks on an asyncio loop. A test of trio's or
Twisted's classes needs a trio run or a running reactor instead, the same one for its fixtures'
set-up, its body and its fixtures' teardown (a client made in the set-up is closed in the
teardown). Each such run lives in a thread of its own, and the test's thread hands it coroutine
functions to run, one at a time, as it would hand them to an asyncio loop.

- :class:`TrioRun`: a new ``trio.run`` per test, through anyio's blocking portal.
- :class:`ReactorRun`: Twisted's reactor, which a process runs once, started at the first test that
  needs it and stopped at the end of the session.

``test/conftest.py`` makes pytest use them: its ``flavor`` fixture starts the test's run, its
collection hook puts the coroutine tests of these flavors in :class:`FrameworkFunction` items, and
its fixture hook runs their async fixtures in the test's run (:func:`in_run_fixture`).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import inspect
import threading
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, ClassVar, Protocol, cast

import pytest


class Run(Protocol):
    """A run that executes coroutine functions handed to it by the test's thread."""

    def call(self, function: Callable[..., Coroutine[Any, Any, Any]], /, *args: Any, **kwargs: Any) -> Any:
        """Run ``function(*args, **kwargs)`` to completion in the run; return or raise its outcome."""
        ...


class TrioRun:
    """A ``trio.run`` in a thread of its own, for one test."""

    def __init__(self, portal: Any) -> None:
        self._portal = portal

    @classmethod
    @contextlib.contextmanager
    def started(cls) -> Iterator[TrioRun]:
        from anyio.from_thread import start_blocking_portal

        with start_blocking_portal("trio", name="trio-test-run") as portal:
            yield cls(portal)

    def call(self, function: Callable[..., Coroutine[Any, Any, Any]], /, *args: Any, **kwargs: Any) -> Any:
        async def outcome() -> tuple[bool, Any]:
            # pytest's skip and fail are BaseExceptions, which would end the run: carry them out.
            try:
                return True, await function(*args, **kwargs)
            except BaseException as exc:
                return False, exc

        returned, value = self._portal.call(outcome)
        if returned:
            return value
        raise value


class ReactorRun:
    """Twisted's global reactor, running in a thread of its own until the end of the session."""

    _instance: ReactorRun | None = None
    #: Twisted's log events of failures nobody handled ("Unhandled error in Deferred"), which
    #: would otherwise go nowhere: the session fails if there is any.
    unhandled_errors: ClassVar[list[str]] = []

    def __init__(self) -> None:
        from twisted.internet import reactor
        from twisted.logger import ILogObserver, formatEvent, globalLogPublisher

        def observe(event: dict[str, Any]) -> None:
            if event.get("log_failure") is not None or event.get("isError"):
                failure = event.get("log_failure")
                self.unhandled_errors.append(
                    f"{formatEvent(event)}\n{failure.getTraceback() if failure else ''}"
                )

        globalLogPublisher.addObserver(cast("ILogObserver", observe))
        self._reactor: Any = reactor
        self._thread = threading.Thread(target=self._run_reactor, name="twisted-reactor", daemon=True)
        self._thread.start()
        # The reactor runs once it answers a call from this thread.
        self.call(_nothing)

    def _run_reactor(self) -> None:
        self._reactor.run(installSignalHandlers=False)

    @classmethod
    @contextlib.contextmanager
    def started(cls) -> Iterator[ReactorRun]:
        if cls._instance is None:
            cls._instance = cls()
        yield cls._instance

    @classmethod
    def stop(cls) -> None:
        """Stop the reactor, if a test started it, and wait for its thread."""
        if cls._instance is not None:
            cls._instance._reactor.callFromThread(cls._instance._reactor.stop)
            cls._instance._thread.join(30)
            cls._instance = None

    def call(self, function: Callable[..., Coroutine[Any, Any, Any]], /, *args: Any, **kwargs: Any) -> Any:
        from twisted.internet.defer import Deferred

        outcome: concurrent.futures.Future[Any] = concurrent.futures.Future()
        running: list[Deferred[Any]] = []

        def start() -> None:
            try:
                deferred = Deferred.fromCoroutine(function(*args, **kwargs))
            except BaseException as exc:
                outcome.set_exception(exc)
                return
            running.append(deferred)
            deferred.addCallbacks(outcome.set_result, lambda failure: outcome.set_exception(failure.value))

        self._reactor.callFromThread(start)
        try:
            return outcome.result()
        except BaseException:
            # A timeout (pytest-timeout) or an interrupt in the test's thread: stop the coroutine too.
            if not outcome.done():

                def cancel() -> None:
                    for deferred in running:
                        deferred.cancel()

                self._reactor.callFromThread(cancel)
            raise


async def _nothing() -> None:
    pass


#: The run of the test being run, if its flavor runs outside pytest-asyncio.
_current: Run | None = None


@contextlib.contextmanager
def running(kind: str) -> Iterator[Run | None]:
    """Start a run of ``kind`` for one test and make it current; ``None`` for "asyncio"."""
    global _current
    if kind == "asyncio":
        yield None
        return
    starters: dict[str, Callable[[], contextlib.AbstractContextManager[Run]]] = {
        "trio": TrioRun.started,
        "twisted": ReactorRun.started,
    }
    with starters[kind]() as run:
        _current = run
        try:
            yield run
        finally:
            _current = None


def current() -> Run:
    if _current is None:
        raise RuntimeError("no trio run or reactor for this test: its flavor fixture did not start one")
    return _current


class FrameworkFunction(pytest.Function):
    """A coroutine test function that runs in its flavor's run (trio, Twisted), not on asyncio."""

    def runtest(self) -> None:
        coroutine_function = self.obj

        def in_run(**kwargs: Any) -> None:
            current().call(coroutine_function, **kwargs)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(self, "obj", in_run)
            super().runtest()

    @classmethod
    def replacing(cls, item: pytest.Function) -> FrameworkFunction:
        """A new item for ``item``'s test, without the marker pytest-asyncio put on it."""
        return cls.from_parent(
            item.parent,
            name=item.name,
            callspec=item.callspec,
            callobj=item.obj,
            fixtureinfo=item._fixtureinfo,
            originalname=item.originalname,
        )


def run_kind(node: pytest.Item | None) -> str:
    """The kind of run the test ``node`` executes in."""
    callspec = getattr(node, "callspec", None)
    flavor = callspec.params.get("flavor") if callspec is not None else None
    return getattr(flavor, "run", "asyncio")


def in_run_fixture(func: Callable[..., Any]) -> Callable[..., Any]:
    """A synchronous fixture function that runs the async fixture ``func`` in the test's run.

    It is not a ``functools.wraps`` wrapper: pytest and pytest-asyncio would follow
    ``__wrapped__`` to the async function and treat the fixture as asyncio's again.
    """
    if inspect.isasyncgenfunction(func):

        def generator(**kwargs: Any) -> Iterator[Any]:
            steps = func(**kwargs)

            async def step() -> Any:
                return await steps.__anext__()

            yield current().call(step)
            try:
                current().call(step)
            except StopAsyncIteration:
                return
            raise RuntimeError(f"async fixture {func.__name__} yielded twice")

        return generator

    def function(**kwargs: Any) -> Any:
        return current().call(func, **kwargs)

    return function
