"""The classes offer what test/contract/motor-api.md lists, with the kind of attribute it says.

The contract's sections (``### AsyncIOMotorX / MotorX``) are parsed at test time; each bullet
``- `name`: kind ...`` is checked on both frameworks' classes. Kinds are checked without I/O where
the declaration (or the hand-written attribute) tells; chaining and awaitables are also exercised
on real cursors against the server.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from motor.metaprogramming import AgnosticBase, AttributeKind, declarations
from test.support import DB_NAME, Flavor

CONTRACT = Path(__file__).parent / "contract" / "motor-api.md"

#: Classes built by another issue: skipped (not failed) while absent from the module.

KINDS = ("awaitable", "property", "plain method", "chaining")


@dataclass(frozen=True)
class Entry:
    name: str
    kind: str  # one of KINDS
    detail: str  # the rest of the bullet, e.g. "(read-only, delegated)"


@dataclass(frozen=True)
class Section:
    short_name: str  # "Client" for "AsyncIOMotorClient / MotorClient"
    wraps: str
    entries: tuple[Entry, ...]

    def __str__(self) -> str:
        return self.short_name


def parse_contract(text: str) -> dict[str, Section]:
    """Return the contract's class sections by short name.

    :raises ValueError: on a heading, bullet or kind it does not understand, or on two sections
        for the same class that disagree.
    """
    sections: dict[str, Section] = {}
    # The appendix (behaviours, not attributes) is test_motor3_compat.py's to check.
    text = text.split("\n## Appendix", 1)[0]
    for chunk in re.split(r"^### ", text, flags=re.MULTILINE)[1:]:
        heading, *lines = chunk.strip().splitlines()
        match = re.fullmatch(r"AsyncIOMotor(\w+) / Motor(\w+)", heading.strip())
        if match is None or match[1] != match[2]:
            raise ValueError(f"unexpected contract heading: {heading!r}")
        wraps = ""
        entries: list[Entry] = []
        for line in lines:
            if line.startswith("wraps "):
                wraps = line.removeprefix("wraps ").strip("` ")
            elif line.startswith("- "):
                bullet = re.fullmatch(r"- `([^`]+)`: (.+)", line.strip())
                if bullet is None:
                    raise ValueError(f"unexpected bullet in {heading}: {line!r}")
                kind = next((k for k in KINDS if bullet[2].startswith(k)), None)
                if kind is None:
                    raise ValueError(f"unknown kind in {heading}: {line!r}")
                entries.append(Entry(bullet[1], kind, bullet[2][len(kind) :].strip(" :")))
            elif line.strip():
                raise ValueError(f"unexpected line in {heading}: {line!r}")
        section = Section(match[1], wraps, tuple(entries))
        previous = sections.setdefault(section.short_name, section)
        if previous != section:
            raise ValueError(f"two sections for {heading} disagree")
    return sections


SECTIONS = parse_contract(CONTRACT.read_text())


def test_contract_parsed() -> None:
    # The parser found the classes users start from, with their main methods.
    for short_name, name in [("Client", "start_session"), ("Collection", "find_one"), ("Cursor", "limit")]:
        assert name in {e.name for e in SECTIONS[short_name].entries}
    assert len(SECTIONS) >= 15


def motor_class(flavor: Flavor, short_name: str) -> Any:
    cls = getattr(flavor.module, f"{flavor.prefix}Motor{short_name}", None)
    if cls is None:
        pytest.fail(f"{flavor.module.__name__} has no {flavor.prefix}Motor{short_name}")
    return cls


def agnostic_class(cls: type) -> type:
    """The framework-agnostic class a generated class was made from (it holds the declarations)."""
    return next(k for k in cls.__mro__ if issubclass(k, AgnosticBase) and "_framework" not in vars(k))


def static_attribute(cls: type, name: str) -> Any:
    try:
        return inspect.getattr_static(cls, name)
    except AttributeError:
        return None


def returns_awaitable(function: Any) -> bool:
    """Whether a hand-written method is ``async def`` or annotated to return an awaitable."""
    if inspect.iscoroutinefunction(function):
        return True
    try:
        hint = typing.get_type_hints(function).get("return")
    except (NameError, TypeError):
        return False
    origin = typing.get_origin(hint) or hint
    return isinstance(origin, type) and issubclass(origin, Awaitable)


def kind_problem(cls: type, entry: Entry) -> str | None:
    """Return what is wrong with ``entry`` on ``cls``, or None."""
    attribute = static_attribute(cls, entry.name)
    if attribute is None:
        return "missing"
    declaration = declarations(agnostic_class(cls)).get(entry.name)
    declared = declaration.kind if declaration is not None else None
    is_property = isinstance(attribute, property) or (
        hasattr(attribute, "__get__") and not callable(attribute) and not isinstance(attribute, staticmethod)
    )

    if entry.kind == "property":
        if not is_property:
            return f"not a property: {attribute!r}"
        if "read-only" in entry.detail and isinstance(attribute, property) and attribute.fset is not None:
            return "settable, but the contract says read-only"
        return None
    if is_property or not callable(attribute):
        return f"not callable: {attribute!r}"
    if entry.kind == "awaitable":
        if declared is AttributeKind.AWAITABLE or (declared is None and returns_awaitable(attribute)):
            return None
        return f"does not return an awaitable (declared {declared})"
    if declared is AttributeKind.AWAITABLE or inspect.iscoroutinefunction(attribute):
        return f"returns an awaitable, but the contract says {entry.kind}"
    if entry.kind == "chaining" and declared not in (None, AttributeKind.CHAINING):
        return f"declared {declared}, not chaining"
    return None


@pytest.mark.parametrize("section", SECTIONS.values(), ids=str)
def test_listed_attributes_have_their_kind(flavor: Flavor, section: Section) -> None:
    cls = motor_class(flavor, section.short_name)
    problems = {e.name: p for e in section.entries if (p := kind_problem(cls, e)) is not None}
    assert not problems, f"{cls.__name__} breaks the contract: {problems}"


@pytest.mark.parametrize("section", SECTIONS.values(), ids=str)
def test_wraps_the_listed_pymongo_class(flavor: Flavor, section: Section) -> None:
    cls = motor_class(flavor, section.short_name)
    delegate_class = cls.__delegate_class__
    assert f"{delegate_class.__module__}.{delegate_class.__qualname__}" == section.wraps


# ---------------------------------------------------------------------------------------------
# Behaviour of the kinds on real objects
# ---------------------------------------------------------------------------------------------

CHAINING_ARGS: dict[str, tuple[Any, ...]] = {
    "add_option": (2,),
    "allow_disk_use": (True,),
    "collation": ({"locale": "en"},),
    "comment": ("contract",),
    "hint": ("_id_",),
    "limit": (2,),
    "max": ([("_id", 10)],),
    "max_await_time_ms": (10,),
    "max_scan": (10,),
    "max_time_ms": (1000,),
    "min": ([("_id", 0)],),
    "remove_option": (2,),
    "skip": (1,),
    "sort": ("_id",),
    "where": ("true",),
    # Listed as plain methods, but they return the cursor too.
    "batch_size": (3,),
    "rewind": (),
}

CURSORS: dict[str, Callable[[Flavor, Any], Any]] = {
    "Cursor": lambda flavor, db: db.coll.find(),
    "RawBatchCursor": lambda flavor, db: db.coll.find_raw_batches(),
    "GridOutCursor": lambda flavor, db: flavor.cls("GridFSBucket")(db).find(),
}


@pytest.mark.parametrize("short_name", CURSORS)
def test_chaining_returns_the_same_cursor_without_io(
    flavor: Flavor, short_name: str, mongodb_uri: str
) -> None:
    cursor_class = motor_class(flavor, short_name)
    # A client that never connects, used outside any event loop: chaining needs neither.
    client = flavor.Client(mongodb_uri, connect=False)
    try:
        names = [e.name for e in SECTIONS[short_name].entries if e.kind == "chaining"]
        names += ["batch_size", "rewind"]
        for name in names:
            assert name in CHAINING_ARGS, f"give test arguments for {name}"
            cursor = CURSORS[short_name](flavor, client[DB_NAME])
            assert type(cursor) is cursor_class
            try:
                result = getattr(cursor, name)(*CHAINING_ARGS[name])
            except NotImplementedError:
                # PyMongo's GridOutCursor refuses add_option and remove_option; Motor's may too.
                with pytest.raises(NotImplementedError):
                    getattr(cursor.delegate, name)(*CHAINING_ARGS[name])
                continue
            assert result is cursor, name
        clone = CURSORS[short_name](flavor, client[DB_NAME]).limit(3).clone()
        assert type(clone) is cursor_class
    finally:
        client.close()


async def test_chained_options_reach_the_server(coll: Any) -> None:
    await coll.insert_many([{"_id": i} for i in range(6)])
    cursor = coll.find().sort("_id", -1).skip(1).limit(2).batch_size(1)
    assert [doc["_id"] async for doc in cursor] == [4, 3]


async def test_cursor_awaitables_return_framework_futures(flavor: Flavor, coll: Any) -> None:
    await coll.insert_many([{"_id": i} for i in range(3)])
    cursors = {
        "Cursor": coll.find(),
        "RawBatchCursor": coll.find_raw_batches(),
        "LatentCommandCursor": coll.aggregate([]),
        "CommandCursor": await coll.database.list_collections(),
    }
    for short_name, cursor in cursors.items():
        assert type(cursor) is motor_class(flavor, short_name)
        awaitables = {e.name for e in SECTIONS[short_name].entries if e.kind == "awaitable"}
        assert {"next", "close"} <= awaitables
        for name in ("next", "try_next", "to_list", "close"):
            if name not in awaitables | {"to_list"}:
                continue
            result = getattr(cursor, name)()
            assert asyncio.isfuture(result), f"{short_name}.{name}() returned {result!r}"
            await result


async def test_change_stream_awaitables(flavor: Flavor, coll: Any) -> None:
    stream = coll.watch()
    assert type(stream) is motor_class(flavor, "ChangeStream")
    async with stream:
        await coll.insert_one({"_id": 1})
        change = stream.next()
        assert asyncio.isfuture(change)
        assert (await asyncio.wait_for(change, 10))["documentKey"] == {"_id": 1}
        nothing = stream.try_next()
        assert asyncio.isfuture(nothing)
        assert await nothing is None
        token = stream.resume_token
        assert token is not None
        closing = stream.close()
        assert asyncio.isfuture(closing)
        await closing
    assert not stream.alive


async def test_hash_and_bool_behave_like_pymongo(client: Any) -> None:
    db = client.motor_test
    coll = db.some_collection
    for obj, twin in [(client, client), (db, client.motor_test), (coll, db.some_collection)]:
        assert hash(obj) == hash(twin)
        assert obj == twin
        assert {obj: 1}[twin] == 1
    assert hash(db) != hash(client.other_db)
    for obj in (db, coll):
        with pytest.raises(NotImplementedError, match="compare with None"):
            bool(obj)
    # The client, like PyMongo's, has no __bool__: it is simply true.
    assert client


async def test_plain_methods_return_framework_objects_at_once(flavor: Flavor, client: Any) -> None:
    db = client.get_database("motor_test")
    assert type(db) is flavor.cls("Database")
    coll = db.get_collection("c")
    assert type(coll) is flavor.cls("Collection")
    assert type(coll.with_options(write_concern=None)) is flavor.cls("Collection")
    assert type(db.with_options()) is flavor.cls("Database")
    assert type(coll.watch()) is flavor.cls("ChangeStream")
    assert type(coll.aggregate([])) is flavor.cls("LatentCommandCursor")
    assert type(client.wrap(coll.delegate)) is flavor.cls("Collection")
    assert coll.get_io_loop() is client.io_loop
    loop = asyncio.get_running_loop()
    io_loop = client.get_io_loop()
    assert flavor.module.__name__.endswith("asyncio") == (io_loop is loop)
    assert getattr(io_loop, "asyncio_loop", loop) is loop
