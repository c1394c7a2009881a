"""Nothing of PyMongo's public surface is left out of Motor unless motor/exclusions.py says why.

The surface is read at test time from the installed PyMongo, so a PyMongo upgrade that adds a
public attribute fails here until Motor offers it or excludes it with a reason.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from motor.exclusions import EXCLUDED, REFUSED_SYNC_PROTOCOL, SYNC_PROTOCOL, excluded_names, refused_protocol
from motor.metaprogramming import AgnosticBase, declarations
from test.support import ALL_FLAVORS, Flavor

# A URI nothing is asked of: the clients built here never connect.
URI = "mongodb://127.0.0.1:1"


@dataclass(frozen=True)
class Surface:
    """A PyMongo class and the Motor class (name less the framework prefix) that offers it."""

    pymongo: str  # "module:Class"
    motor: str  # "Client" for AsyncIOMotorClient / MotorClient

    def pymongo_class(self) -> type:
        module_name, _, class_name = self.pymongo.partition(":")
        return getattr(importlib.import_module(module_name), class_name)  # type: ignore[no-any-return]

    def motor_class(self, flavor: Flavor) -> Any:
        cls = getattr(flavor.module, f"{flavor.prefix}Motor{self.motor}", None)
        if cls is None:
            pytest.fail(f"{flavor.module.__name__} has no {flavor.prefix}Motor{self.motor}")
        return cls

    def __str__(self) -> str:
        return self.motor


# One line per wrapped PyMongo class.
SURFACES = [
    Surface("pymongo.synchronous.mongo_client:MongoClient", "Client"),
    Surface("pymongo.synchronous.database:Database", "Database"),
    Surface("pymongo.synchronous.collection:Collection", "Collection"),
    Surface("pymongo.synchronous.cursor:Cursor", "Cursor"),
    Surface("pymongo.synchronous.cursor:RawBatchCursor", "RawBatchCursor"),
    Surface("pymongo.synchronous.command_cursor:CommandCursor", "CommandCursor"),
    Surface("pymongo.synchronous.command_cursor:CommandCursor", "LatentCommandCursor"),
    Surface("pymongo.synchronous.command_cursor:RawBatchCommandCursor", "RawBatchCommandCursor"),
    Surface("pymongo.synchronous.change_stream:ChangeStream", "ChangeStream"),
    Surface("pymongo.synchronous.client_session:ClientSession", "ClientSession"),
    Surface("pymongo.synchronous.encryption:ClientEncryption", "ClientEncryption"),
    Surface("gridfs.synchronous.grid_file:GridFSBucket", "GridFSBucket"),
    Surface("gridfs.synchronous.grid_file:GridIn", "GridIn"),
    Surface("gridfs.synchronous.grid_file:GridOut", "GridOut"),
    Surface("gridfs.synchronous.grid_file:GridOutCursor", "GridOutCursor"),
]

#: How to get an instance without I/O, to see attributes that a constructor sets (a collection's
#: ``database``, a cursor's ``collection``). Classes whose instances need the server have none.
INSTANCES: dict[str, Callable[[Flavor, Any], Any]] = {
    "Client": lambda flavor, client: client,
    "Database": lambda flavor, client: client.db,
    "Collection": lambda flavor, client: client.db.coll,
    "Cursor": lambda flavor, client: client.db.coll.find(),
    "RawBatchCursor": lambda flavor, client: client.db.coll.find_raw_batches(),
    "LatentCommandCursor": lambda flavor, client: client.db.coll.aggregate([]),
    "ChangeStream": lambda flavor, client: client.db.coll.watch(),
    "GridFSBucket": lambda flavor, client: flavor.cls("GridFSBucket")(client.db),
    "GridOutCursor": lambda flavor, client: flavor.cls("GridFSBucket")(client.db).find(),
}


def public_names(pymongo_class: type) -> list[str]:
    return sorted(name for name in dir(pymongo_class) if not name.startswith("_"))


def agnostic_class(motor_class: type) -> type:
    """The framework-agnostic class a generated class was made from (it holds the declarations)."""
    return next(k for k in motor_class.__mro__ if issubclass(k, AgnosticBase) and "_framework" not in vars(k))


@pytest.fixture(params=ALL_FLAVORS, ids=str)
def flavor(request: pytest.FixtureRequest) -> Flavor:
    """Each framework of the registry in turn: these tests need no running loop, so the frameworks
    with a run of their own (trio, Twisted, anyio) are covered too."""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def instance_of(flavor: Flavor) -> Iterator[Callable[[str], Any]]:
    """``instance_of("Cursor")``: an instance of the flavor's class, built without I/O, or None."""
    client = flavor.Client(URI, connect=False)

    def make(motor_name: str) -> Any:
        factory = INSTANCES.get(motor_name)
        return None if factory is None else factory(flavor, client)

    yield make
    client.close()  # No loop is running: PyMongo's close runs here, and does no I/O for this client.


def offered(motor_class: type, instance: Any, name: str) -> bool:
    if hasattr(motor_class, name) or name in declarations(agnostic_class(motor_class)):
        return True
    # An attribute the constructor sets; vars() avoids __getattr__, which makes sub-collections.
    return instance is not None and name in vars(instance)


@pytest.mark.parametrize("surface", SURFACES, ids=str)
def test_public_surface_offered_or_excluded(flavor: Flavor, surface: Surface, instance_of: Any) -> None:
    motor_class = surface.motor_class(flavor)
    pymongo_class = surface.pymongo_class()
    instance = instance_of(surface.motor)
    exclusions = excluded_names(pymongo_class)

    missing = [
        name
        for name in public_names(pymongo_class)
        if name not in exclusions and not offered(motor_class, instance, name)
    ]
    assert not missing, (
        f"{motor_class.__name__} lacks these public attributes of {pymongo_class.__qualname__}: "
        f"{missing}; offer them, or add them with a reason to motor.exclusions.EXCLUDED"
    )


@pytest.mark.parametrize("surface", SURFACES, ids=str)
def test_exclusions_not_stale(flavor: Flavor, surface: Surface, instance_of: Any) -> None:
    motor_class = surface.motor_class(flavor)
    pymongo_class = surface.pymongo_class()
    instance = instance_of(surface.motor)
    public = public_names(pymongo_class)
    for name in excluded_names(pymongo_class):
        assert name in public, (
            f"motor.exclusions excludes {pymongo_class.__qualname__}.{name}, which PyMongo no longer "
            "has: remove the entry"
        )
        assert not offered(motor_class, instance, name), (
            f"motor.exclusions excludes {pymongo_class.__qualname__}.{name}, but "
            f"{motor_class.__name__} offers it: remove the entry"
        )
        if instance is not None:
            # Excluded must mean absent, not silently a database or collection named like it.
            with pytest.raises(AttributeError, match=name):
                getattr(instance, name)


def test_exclusion_table_covers_only_wrapped_classes_with_sentences() -> None:
    wrapped = {surface.pymongo_class() for surface in SURFACES}
    for table in (EXCLUDED, REFUSED_SYNC_PROTOCOL):
        for pymongo_class, reasons in table.items():
            assert pymongo_class in wrapped, f"{pymongo_class.__qualname__} is not a wrapped class"
            assert reasons, f"empty entry for {pymongo_class.__qualname__}"
            for name, reason in reasons.items():
                assert reason[:1].isupper() and reason.endswith("."), (
                    f"the reason for {pymongo_class.__qualname__}.{name} is not a full sentence: {reason!r}"
                )
                assert len(reason.split()) >= 8, f"the reason for {name} explains nothing: {reason!r}"


def _present(cls: type, name: str) -> bool:
    """Whether ``cls`` or a base other than ``object`` has ``name`` in its namespace (even None)."""
    return any(name in vars(klass) for klass in cls.__mro__ if klass is not object)


def _defines(cls: type, name: str) -> bool:
    """Whether ``cls`` supports ``name``: present, and not set to None to refuse the protocol."""
    return _present(cls, name) and getattr(cls, name) is not None


@pytest.mark.parametrize("surface", SURFACES, ids=str)
def test_sync_protocols_have_async_replacements(flavor: Flavor, surface: Surface) -> None:
    motor_class = surface.motor_class(flavor)
    pymongo_class = surface.pymongo_class()
    refused = refused_protocol(pymongo_class)
    for sync_name, async_name in SYNC_PROTOCOL.items():
        if not _present(pymongo_class, sync_name):
            continue
        if sync_name in refused:
            assert not _defines(motor_class, async_name), (
                f"{motor_class.__name__}.{async_name} exists, but {refused[sync_name]}"
            )
        else:
            assert _defines(pymongo_class, sync_name), (
                f"PyMongo sets {pymongo_class.__qualname__}.{sync_name} to None to refuse the protocol: "
                "add it to motor.exclusions.REFUSED_SYNC_PROTOCOL"
            )
            assert _defines(motor_class, async_name), (
                f"{pymongo_class.__qualname__} supports {sync_name}; {motor_class.__name__} must "
                f"support {async_name}"
            )
    for sync_name in refused:
        assert _present(pymongo_class, sync_name), (
            f"motor.exclusions.REFUSED_SYNC_PROTOCOL names {pymongo_class.__qualname__}.{sync_name}, "
            "which PyMongo no longer defines: remove the entry"
        )


REFUSING = [s for s in SURFACES if refused_protocol(s.pymongo_class())]


@pytest.mark.parametrize("surface", REFUSING, ids=str)
def test_refused_sync_protocol_is_refused(flavor: Flavor, surface: Surface, instance_of: Any) -> None:
    instance = instance_of(surface.motor)
    # iter() must refuse at once, not fall back to __getitem__ (which would yield sub-collections
    # named "0", "1", ... forever): never consume what it returns here.
    with pytest.raises(TypeError, match="not iterable"):
        iter(instance)
    with pytest.raises(TypeError, match="not iterable"):
        "name" in instance  # noqa: B015


def test_instance_factories_build_the_right_classes(flavor: Flavor, instance_of: Any) -> None:
    for surface in SURFACES:
        if surface.motor not in INSTANCES:
            continue
        assert type(instance_of(surface.motor)) is surface.motor_class(flavor), surface.motor
