"""Replica sets and sharded clusters that change while operations run, simulated with mockupdb.

SecantusDB is a single server that is always primary, so these tests build their deployments from
:class:`mockupdb.MockupDB` servers, each on threads of its own, and answer every request from a
handler that plays a member's part: ``hello`` reports the member's current role, writes go to a
store shared by the deployment, reads say which member served them. A member's role can change
while clients run (a step-down, an election), and a member can go away.

Every test runs on both frameworks, closes its clients and stops its servers, and checks that no
thread outlives it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pymongo
import pytest
from bson import ObjectId
from mockupdb import MockupDB
from pymongo import common
from pymongo.errors import NotPrimaryError, ServerSelectionTimeoutError
from pymongo.read_preferences import Primary, Secondary, SecondaryPreferred

from test.support import Flavor

#: The wire version the members report: MongoDB 7.0. It must be within what PyMongo supports.
WIRE_VERSION = 21
assert common.MIN_SUPPORTED_WIRE_VERSION <= WIRE_VERSION <= common.MAX_SUPPORTED_WIRE_VERSION

#: The largest delay of a 5 ms timer that we accept while calls wait for a server. Each wait in
#: these tests lasts 0.3 s or more, so a loop blocked by one would be late by that much; on a quiet
#: machine the timer is a few milliseconds late, and on the shared test machine up to 170 ms.
MAX_TICK_GAP = 0.250

# PyMongo refuses a heartbeat more frequent than 500 ms. The other limits only bound a failure.
CLIENT_OPTIONS: dict[str, Any] = {
    "heartbeatFrequencyMS": 500,
    # The members send topologyVersion, which would make PyMongo stream hello replies; mockupdb
    # cannot hold a reply back as the streaming protocol needs.
    "serverMonitoringMode": "poll",
    "serverSelectionTimeoutMS": 10_000,
    "connectTimeoutMS": 2_000,
    "socketTimeoutMS": 5_000,
}


@dataclass
class Write:
    """An insert that a member applied: which member, and the retryable write's identity."""

    member: str
    txn: tuple[bytes, int] | None


@dataclass
class Member:
    """One simulated ``mongod`` or ``mongos``, answering from the deployment's shared state."""

    deployment: Deployment
    name: str
    mongos: bool = False
    #: A secondary that is not ready to serve reads (in initial sync or rollback, say).
    recovering: bool = False
    tags: dict[str, str] = field(default_factory=dict)
    #: Command names received, with the read preference mode of reads.
    reads: list[str] = field(default_factory=list)
    #: Inserts refused with NotWritablePrimary: (``_id``, retryable write identity).
    refused: list[tuple[Any, tuple[bytes, int] | None]] = field(default_factory=list)
    operations: int = 0
    #: Open change stream cursors: id -> the position in the deployment's changes.
    streams: dict[int, int] = field(default_factory=dict)
    #: The resume token of each change stream opened with one.
    resumed_after: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.server = MockupDB()
        self.server.run()
        self.server.autoresponds(self.handle)
        self.address = self.server.address_string
        self.process_id = ObjectId()
        self.host_port = (self.server.host, self.server.port)

    def stop(self) -> None:
        """Close the listening socket and every connection, as a member that goes away does."""
        server = self.server
        if not server.running:
            return
        # mockupdb's accept loop looks at its stop flag after a select() of up to a second. Raising
        # the flag and then connecting wakes it, so that stop() takes milliseconds: the tests stop
        # a dozen servers.
        server._stopped = True
        with contextlib.suppress(OSError), socket.create_connection(server.address, timeout=1):
            pass
        server.stop()

    def hello(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "minWireVersion": 0,
            "maxWireVersion": WIRE_VERSION,
            "logicalSessionTimeoutMinutes": 30,
            "maxBsonObjectSize": 16 * 1024 * 1024,
            "maxMessageSizeBytes": 48_000_000,
            "maxWriteBatchSize": 100_000,
            "helloOk": True,
            "topologyVersion": self.topology_version(),
        }
        if self.mongos:
            return {**doc, "ismaster": True, "isWritablePrimary": True, "msg": "isdbgrid"}
        deployment = self.deployment
        primary = deployment.primary is self
        doc.update(
            ismaster=primary,
            isWritablePrimary=primary,
            secondary=not primary and not self.recovering,
            setName=deployment.set_name,
            setVersion=1,
            hosts=[member.address for member in deployment.members],
            me=self.address,
        )
        if deployment.primary is not None:
            doc["primary"] = deployment.primary.address
        if primary:
            # A new primary's electionId is greater than its predecessor's; PyMongo trusts the
            # primary with the greatest one, so a stale primary cannot take over again.
            doc["electionId"] = ObjectId(f"{deployment.election:024x}")
        if self.tags:
            doc["tags"] = self.tags
        return doc

    def topology_version(self) -> dict[str, Any]:
        # Servers from 4.4 on send it with hello and with "not primary" errors, so that a client can
        # tell a reply sent before a role change from one sent after it (the deployment's lock is
        # held).
        return {"processId": self.process_id, "counter": self.deployment.version}

    def state_change_error(self, request: Any, code: int, code_name: str, *labels: str) -> bool:
        """Reply with a "not primary" or "recovering" error, as a server from 4.4 on does."""
        with self.deployment.lock:
            topology_version = self.topology_version()
        return bool(
            request.command_err(
                code,
                code_name,
                codeName=code_name,
                errorLabels=list(labels),
                topologyVersion=topology_version,
            )
        )

    def handle(self, request: Any) -> bool:
        """Answer any request (mockupdb calls this on the connection's thread)."""
        try:
            return self._handle(request)
        except OSError:
            # The client hung up, or stop() closed the connection, before the reply went out.
            return True

    def _handle(self, request: Any) -> bool:
        name = (request.command_name or "").lower()
        deployment = self.deployment
        if name in ("hello", "ismaster"):
            with deployment.lock:
                return bool(request.ok(self.hello()))
        if name == "insert":
            return self._insert(request)
        if name == "find":
            return self._find(request)
        if name == "aggregate" and "$changeStream" in request.doc["pipeline"][0]:
            return self._watch(request)
        if name == "getmore":
            return self._get_more(request)
        if name in ("endsessions", "killcursors"):
            return bool(request.ok())
        with deployment.lock:
            deployment.unexpected.append(f"{self.name}: {name}")
        return bool(request.command_err(59, f"no such command: {name!r}", codeName="CommandNotFound"))

    def _insert(self, request: Any) -> bool:
        docs = request.doc.get("documents", [])
        lsid, txn_number = request.doc.get("lsid"), request.doc.get("txnNumber")
        txn = (bytes(lsid["id"]), int(txn_number)) if lsid and txn_number is not None else None
        deployment = self.deployment
        with deployment.lock:
            self.operations += 1
            if not self.mongos and deployment.primary is not self:
                self.refused.extend((doc["_id"], txn) for doc in docs)
                refuse = True
            else:
                refuse = False
                # A retried write that was applied already is acknowledged again and not applied
                # twice, as a server does with the retryable write's lsid and txnNumber.
                if txn is None or txn not in deployment.transactions:
                    for doc in docs:
                        deployment.applied.setdefault(doc["_id"], []).append(Write(self.name, txn))
                        deployment.changes.append(doc)
                    if txn is not None:
                        deployment.transactions.add(txn)
        if refuse:
            # A server from MongoDB 4.4 on labels the errors that may be retried; PyMongo relies on
            # the label rather than on the code.
            return self.state_change_error(request, 10107, "NotWritablePrimary", "RetryableWriteError")
        return bool(request.ok(n=len(docs)))

    def _find(self, request: Any) -> bool:
        mode = request.doc.get("$readPreference", {}).get("mode", "primary")
        deployment = self.deployment
        with deployment.lock:
            self.operations += 1
            self.reads.append(mode)
            secondary = not self.mongos and deployment.primary is not self
            recovering, refuse = self.recovering, secondary and mode == "primary"
        if recovering:
            return self.state_change_error(request, 13436, "NotPrimaryOrSecondary")
        if refuse:
            return self.state_change_error(request, 13435, "NotPrimaryNoSecondaryOk")
        namespace = f"{request.namespace}.{request.doc['find']}"
        batch = [{"_id": 0, "served_by": self.name}]
        return bool(request.ok(cursor={"id": 0, "ns": namespace, "firstBatch": batch}))

    def _watch(self, request: Any) -> bool:
        options = request.doc["pipeline"][0]["$changeStream"]
        token = options.get("resumeAfter") or options.get("startAfter")
        deployment = self.deployment
        with deployment.lock:
            primary = deployment.primary is self
        if not primary:
            return self.state_change_error(request, 10107, "NotWritablePrimary", "ResumableChangeStreamError")
        with deployment.lock:
            position = int(token["_data"]) if token else len(deployment.changes)
            if token:
                self.resumed_after.append(token["_data"])
            cursor_id = 1000 + len(self.streams)
            self.streams[cursor_id] = position
        return bool(request.ok(cursor=self._batch(request, cursor_id, "firstBatch", position, [])))

    def _get_more(self, request: Any) -> bool:
        cursor_id = int(request.doc["getMore"])
        deployment = self.deployment
        with deployment.lock:
            primary = deployment.primary is self
        if not primary:
            # What a primary that steps down answers to a change stream's getMore.
            return self.state_change_error(
                request, 11602, "InterruptedDueToReplStateChange", "ResumableChangeStreamError"
            )
        with deployment.lock:
            position = self.streams[cursor_id]
            events = [
                {
                    "_id": {"_data": f"{index + 1:08d}"},
                    "operationType": "insert",
                    "ns": {"db": request.namespace, "coll": "coll"},
                    "documentKey": {"_id": doc["_id"]},
                    "fullDocument": doc,
                }
                for index, doc in enumerate(deployment.changes[position:], position)
            ]
            self.streams[cursor_id] = position + len(events)
        if not events:
            # A server holds an empty getMore of a change stream for up to maxAwaitTimeMS.
            time.sleep(0.01)
        batch = self._batch(request, cursor_id, "nextBatch", position + len(events), events)
        return bool(request.ok(cursor=batch))

    @staticmethod
    def _batch(
        request: Any, cursor_id: int, key: str, position: int, events: list[dict[str, Any]]
    ) -> dict[str, Any]:
        return {
            "id": cursor_id,
            "ns": f"{request.namespace}.coll",
            key: events,
            "postBatchResumeToken": {"_data": f"{position:08d}"},
        }


class Deployment:
    """Simulated members sharing one store, and the clients that talk to them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.members: list[Member] = []
        self.set_name = "rs"
        self.primary: Member | None = None
        self.election = 1
        #: Counts the role changes: each member's topologyVersion counter.
        self.version = 0
        #: ``_id`` -> each application of an insert of that document.
        self.applied: dict[Any, list[Write]] = {}
        self.transactions: set[tuple[bytes, int]] = set()
        #: The documents inserted, in order: the change stream's events.
        self.changes: list[dict[str, Any]] = []
        self.unexpected: list[str] = []
        self.clients: list[Any] = []

    def replica_set(self, *tags: dict[str, str]) -> list[Member]:
        """One member per ``tags`` argument; the first one is primary."""
        members = [Member(self, f"rs{i}", tags=member_tags) for i, member_tags in enumerate(tags)]
        with self.lock:
            self.members.extend(members)
            self.primary = members[0]
        return members

    def routers(self, count: int) -> list[Member]:
        members = [Member(self, f"mongos{i}", mongos=True) for i in range(count)]
        self.members.extend(members)
        return members

    def step_down(self) -> None:
        """The primary becomes a secondary; until an election, the set has no primary."""
        with self.lock:
            self.primary = None
            self.version += 1

    def elect(self, member: Member) -> None:
        with self.lock:
            self.election += 1
            self.primary = member
            self.version += 1

    def set_recovering(self, member: Member, recovering: bool) -> None:
        with self.lock:
            member.recovering = recovering
            self.version += 1

    def uri(self) -> str:
        hosts = ",".join(member.address for member in self.members)
        if any(member.mongos for member in self.members):
            return f"mongodb://{hosts}/"
        return f"mongodb://{hosts}/?replicaSet={self.set_name}"

    def client(self, flavor: Flavor, **options: Any) -> Any:
        client = flavor.Client(self.uri(), **{**CLIENT_OPTIONS, **options})
        self.clients.append(client)
        return client

    async def close(self) -> None:
        for client in self.clients:
            await client.aclose()

        def stop_members() -> None:
            with ThreadPoolExecutor(max(1, len(self.members))) as pool:
                list(pool.map(Member.stop, self.members))

        await in_thread(stop_members)


async def in_thread(function: Callable[[], object]) -> None:
    """Run a blocking ``function`` on a thread that ends with it (unlike the loop's executor's)."""
    with ThreadPoolExecutor(1) as pool:
        await asyncio.wrap_future(pool.submit(function))


@pytest.fixture
async def deployment() -> AsyncIterator[Deployment]:
    threads_before = set(threading.enumerate())
    deployment = Deployment()
    try:
        yield deployment
    finally:
        await deployment.close()

    def leaked() -> list[str]:
        # Motor's supervisor thread serves the whole process and exits by itself once idle.
        return [
            thread.name
            for thread in threading.enumerate()
            if thread not in threads_before and thread.name != "motor-supervisor"
        ]

    # The clients' worker and monitor threads and the servers' threads end soon after the close.
    deadline = time.monotonic() + 5
    while leaked() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert leaked() == []
    assert deployment.unexpected == []


class Ticker:
    """A 5 ms timer on the running loop that records its largest gap beyond the 5 ms."""

    def __init__(self) -> None:
        self.max_gap = 0.0
        self._task: asyncio.Future[None] | None = None

    async def _run(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(0.005)
            self.max_gap = max(self.max_gap, time.perf_counter() - start - 0.005)

    async def __aenter__(self) -> Ticker:
        self._task = asyncio.ensure_future(self._run())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


async def wait_until(predicate: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0.01)


class Workload:
    """Tasks that insert unique documents (and read one, if asked) in a loop until stopped."""

    def __init__(self, coll: Any, tasks: int, reads: bool = False) -> None:
        self.coll = coll
        self.reads = reads
        self.ids = itertools.count()
        self.acknowledged: list[int] = []
        #: (``_id``, error) of each insert or read that raised.
        self.errors: list[tuple[int, BaseException]] = []
        self.running = True
        self.tasks = [asyncio.ensure_future(self._work()) for _ in range(tasks)]

    async def _work(self) -> None:
        while self.running:
            _id = next(self.ids)
            try:
                await self.coll.insert_one({"_id": _id})
                self.acknowledged.append(_id)
                if self.reads:
                    assert (await self.coll.find_one())["_id"] == 0
            except Exception as exc:
                self.errors.append((_id, exc))

    async def stop(self) -> None:
        self.running = False
        await asyncio.gather(*self.tasks)


def assert_each_write_applied_once(deployment: Deployment, acknowledged: list[int]) -> None:
    """Every acknowledged insert was applied once; no insert was applied without acknowledgment."""
    assert sorted(deployment.applied) == sorted(acknowledged)
    twice = {_id: writes for _id, writes in deployment.applied.items() if len(writes) != 1}
    assert twice == {}


# ---------------------------------------------------------------------------------------------
# Replica set: step-down and election
# ---------------------------------------------------------------------------------------------


async def test_step_down_and_election_while_writes_run(flavor: Flavor, deployment: Deployment) -> None:
    old, new, _ = deployment.replica_set({}, {}, {})
    coll = deployment.client(flavor).db.coll
    async with Ticker() as ticker:
        workload = Workload(coll, tasks=4)
        await wait_until(lambda: len(workload.acknowledged) >= 20, "20 writes are acknowledged")
        deployment.step_down()
        # With no primary, every write (new ones and the retries of refused ones) waits in server
        # selection on a worker thread, while the loop goes on.
        await wait_until(lambda: bool(old.refused), "the old primary refuses a write")
        await asyncio.sleep(0.8)
        acknowledged_without_primary = len(workload.acknowledged)
        deployment.elect(new)
        await wait_until(
            lambda: len(workload.acknowledged) >= acknowledged_without_primary + 20,
            "20 more writes are acknowledged",
        )
        await workload.stop()

    # PyMongo decides whether a write may be retried when it has a connection for it. A write that
    # selected the primary just before the step-down and got its connection after PyMongo saw the
    # step-down goes out without a txnNumber, so its refusal is final and reaches the caller.
    not_retryable = sorted(_id for _id, txn in old.refused if txn is None)
    assert sorted(_id for _id, _ in workload.errors) == not_retryable
    assert all(isinstance(exc, NotPrimaryError) for _, exc in workload.errors)
    assert_each_write_applied_once(deployment, workload.acknowledged)
    # Each other refused write was retried on the new primary with the same lsid and txnNumber.
    for _id, txn in old.refused:
        if txn is not None:
            assert deployment.applied[_id] == [Write(new.name, txn)]
    assert ticker.max_gap < MAX_TICK_GAP


async def test_loop_runs_while_a_write_waits_for_an_election(flavor: Flavor, deployment: Deployment) -> None:
    _, new, _ = deployment.replica_set({}, {}, {})
    coll = deployment.client(flavor).db.coll
    await coll.insert_one({"_id": "before"})
    deployment.step_down()
    async with Ticker() as ticker:
        started = time.monotonic()
        write = asyncio.ensure_future(coll.insert_one({"_id": "during"}))
        # Control returns to the loop at once, and the write stays pending until there is a primary.
        await asyncio.sleep(1.0)
        assert not write.done()
        deployment.elect(new)
        await write
    assert time.monotonic() - started >= 1.0
    assert [w.member for w in deployment.applied["during"]] == [new.name]
    assert ticker.max_gap < MAX_TICK_GAP


async def test_timeout_and_cancellation_of_writes_waiting_for_an_election(
    flavor: Flavor, deployment: Deployment
) -> None:
    _, new, _ = deployment.replica_set({}, {}, {})
    coll = deployment.client(flavor).db.coll
    await coll.insert_one({"_id": "before"})
    deployment.step_down()
    # pymongo.timeout() reaches the worker, where it bounds the retry's server selection. As with
    # PyMongo, the first write's retry finds no primary and the first attempt's error is raised;
    # the next write knows of no primary from the start and times out selecting one.
    with pytest.raises(NotPrimaryError), pymongo.timeout(0.5):
        await coll.insert_one({"_id": "timed out 1"})
    started = time.monotonic()
    with pytest.raises(ServerSelectionTimeoutError) as raised, pymongo.timeout(0.5):
        await coll.insert_one({"_id": "timed out 2"})
    assert raised.value.timeout
    assert 0.5 <= time.monotonic() - started < 1.5
    # A cancelled call goes on waiting on its worker, as doc/cancellation.rst says: the write is
    # applied once there is a primary, like a write whose reply was lost.
    cancelled = asyncio.ensure_future(coll.insert_one({"_id": "cancelled"}))
    await asyncio.sleep(0.2)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    deployment.elect(new)
    await wait_until(lambda: "cancelled" in deployment.applied, "the cancelled write is applied")
    await coll.insert_one({"_id": "after"})
    assert "timed out 1" not in deployment.applied
    assert "timed out 2" not in deployment.applied


async def test_topology_properties_follow_an_election_without_waiting(
    flavor: Flavor, deployment: Deployment
) -> None:
    old, new, third = deployment.replica_set({}, {}, {})
    client = deployment.client(flavor)
    assert await client.get_address() == old.host_port
    await wait_until(
        lambda: client.secondaries == {new.host_port, third.host_port}, "the client knows the secondaries"
    )
    assert client.primary == old.host_port
    assert client.is_primary
    assert not client.is_mongos
    deployment.step_down()
    await wait_until(lambda: client.primary is None, "the client sees that there is no primary")
    async with Ticker() as ticker:
        # PyMongo's properties would wait here for a primary; Motor's say what the client knows.
        started = time.monotonic()
        assert (client.address, client.is_primary, client.is_mongos) == (None, False, False)
        assert client.secondaries == {old.host_port, new.host_port, third.host_port}
        assert time.monotonic() - started < 0.05
        address = asyncio.ensure_future(client.get_address())
        await asyncio.sleep(0.3)
        assert not address.done()
        deployment.elect(new)
        assert await address == new.host_port
    assert client.primary == new.host_port
    await wait_until(
        lambda: client.secondaries == {old.host_port, third.host_port}, "the client knows the secondaries"
    )
    assert ticker.max_gap < MAX_TICK_GAP


async def test_change_stream_resumes_on_the_new_primary(flavor: Flavor, deployment: Deployment) -> None:
    old, new, _ = deployment.replica_set({}, {}, {})
    coll = deployment.client(flavor).db.coll
    async with coll.watch() as stream:
        await coll.insert_many([{"_id": i} for i in range(3)])
        seen = [(await stream.next())["documentKey"]["_id"] for _ in range(3)]
        deployment.step_down()
        # The stream's getMore fails on the old primary; PyMongo waits for a primary to resume on.
        waiting = asyncio.ensure_future(stream.next())
        await asyncio.sleep(0.5)
        assert not waiting.done()
        deployment.elect(new)
        await coll.insert_many([{"_id": i} for i in range(3, 6)])
        seen.append((await waiting)["documentKey"]["_id"])
        seen += [(await stream.next())["documentKey"]["_id"] for _ in range(2)]
    assert seen == list(range(6))
    # It resumed after the last change it had returned, so none was skipped or seen twice.
    assert new.resumed_after == ["00000003"]
    assert old.resumed_after == []


# ---------------------------------------------------------------------------------------------
# Replica set: read preference
# ---------------------------------------------------------------------------------------------


async def test_reads_are_routed_by_read_preference(flavor: Flavor, deployment: Deployment) -> None:
    primary, east, west = deployment.replica_set({"dc": "north"}, {"dc": "east"}, {"dc": "west"})
    client = deployment.client(flavor)
    coll = client.db.coll

    async def served_by(read_preference: Any, reads: int = 12) -> Counter[str]:
        routed = coll.with_options(read_preference=read_preference)
        found = Counter[str]()
        for _ in range(reads // 3):
            found[(await routed.find_one())["served_by"]] += 1
            found.update(doc["served_by"] for doc in await routed.find().to_list())
            found.update([doc["served_by"] async for doc in routed.find()])
        return found

    assert await served_by(Primary()) == {primary.name: 12}
    secondaries = await served_by(Secondary())
    assert set(secondaries) <= {east.name, west.name}
    assert secondaries.total() == 12
    assert set(await served_by(SecondaryPreferred())) <= {east.name, west.name}
    assert await served_by(Secondary(tag_sets=[{"dc": "west"}])) == {west.name: 12}
    # A client-wide read preference applies to its databases and collections.
    east_client = deployment.client(flavor, readPreference="secondary", readPreferenceTags="dc:east")
    assert (await east_client.db.coll.find_one())["served_by"] == east.name
    # The secondaries were asked with the read preference, so they would serve the read.
    assert set(east.reads) | set(west.reads) <= {"secondary", "secondaryPreferred"}
    assert set(primary.reads) == {"primary"}


async def test_secondary_read_waits_for_a_secondary_without_blocking_the_loop(
    flavor: Flavor, deployment: Deployment
) -> None:
    _, secondary = deployment.replica_set({}, {})
    client = deployment.client(flavor)
    coll = client.db.coll.with_options(read_preference=Secondary())
    assert (await coll.find_one())["served_by"] == secondary.name
    # The only secondary starts recovering: a secondary read has nowhere to go until it is back.
    deployment.set_recovering(secondary, True)
    async with Ticker() as ticker:
        await wait_until(lambda: not client.secondaries, "the client knows the member is recovering")
        reads_before = len(secondary.reads)
        read = asyncio.ensure_future(coll.find_one())
        await asyncio.sleep(0.5)
        assert not read.done()
        deployment.set_recovering(secondary, False)
        assert (await read)["served_by"] == secondary.name
    assert ticker.max_gap < MAX_TICK_GAP
    assert len(secondary.reads) == reads_before + 1


# ---------------------------------------------------------------------------------------------
# Sharded cluster: two mongos routers, one goes away
# ---------------------------------------------------------------------------------------------


async def test_two_mongos_one_goes_away(flavor: Flavor, deployment: Deployment) -> None:
    staying, leaving = deployment.routers(2)
    client = deployment.client(flavor)
    coll = client.db.coll
    async with Ticker() as ticker:
        workload = Workload(coll, tasks=4, reads=True)
        await wait_until(
            lambda: staying.operations >= 10 and leaving.operations >= 10, "both routers are used"
        )
        # stop() blocks until the server's threads end: off the loop, while the workload runs.
        await in_thread(leaving.stop)
        after_stop = len(workload.acknowledged)
        operations_of_leaving, operations_of_staying = leaving.operations, staying.operations
        await wait_until(
            lambda: len(workload.acknowledged) >= after_stop + 40, "40 more writes are acknowledged"
        )
        await workload.stop()

    assert workload.errors == []
    assert_each_write_applied_once(deployment, workload.acknowledged)
    assert leaving.operations == operations_of_leaving
    assert staying.operations >= operations_of_staying + 80
    assert ticker.max_gap < MAX_TICK_GAP
    assert client.is_mongos
    await wait_until(lambda: client.nodes == {staying.host_port}, "the client forgets the router")
