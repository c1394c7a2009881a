"""What of PyMongo's public surface Motor deliberately does not offer, and why.

Every public attribute of a wrapped PyMongo class is offered by its Motor class unless
:data:`EXCLUDED` names it here with a reason. ``test/test_completeness.py`` reads the installed
PyMongo's classes at test time and fails on any public name that is neither offered nor excluded,
and on any exclusion that has gone stale (PyMongo dropped the name, or Motor now offers it).

Dunders are outside that comparison, except the synchronous iteration and context-manager
protocols: :data:`SYNC_PROTOCOL` says which asynchronous dunder replaces each, and
:data:`REFUSED_SYNC_PROTOCOL` names the PyMongo classes that define the synchronous dunders only to
refuse them.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from pymongo.synchronous.collection import Collection
from pymongo.synchronous.database import Database
from pymongo.synchronous.mongo_client import MongoClient

__all__ = ["EXCLUDED", "REFUSED_SYNC_PROTOCOL", "SYNC_PROTOCOL", "excluded_names", "refused_protocol"]

#: Reasons by attribute name, for one PyMongo class.
Reasons = Mapping[str, str]


def _not_iterable(class_name: str, motor_name: str, item: str) -> str:
    return (
        f"PyMongo's {class_name}.next only raises TypeError, because a {class_name} is not an "
        f"iterator; {motor_name}.next raises AttributeError instead of returning the {item} named "
        f'"next", which stays reachable as obj["next"].'
    )


#: Public attributes of PyMongo classes that Motor's classes deliberately do not offer, with the
#: reason for each. An entry for a class also holds for its subclasses.
EXCLUDED: Final[Mapping[type, Reasons]] = MappingProxyType(
    {
        MongoClient: MappingProxyType({"next": _not_iterable("MongoClient", "MotorClient", "database")}),
        Database: MappingProxyType({"next": _not_iterable("Database", "MotorDatabase", "collection")}),
        Collection: MappingProxyType(
            {"next": _not_iterable("Collection", "MotorCollection", "sub-collection")}
        ),
    }
)

#: PyMongo's synchronous protocol dunders, and the asynchronous dunder that replaces each in Motor:
#: ``for``/``next()`` become ``async for``/``await anext()``, ``with`` becomes ``async with``.
SYNC_PROTOCOL: Final[Mapping[str, str]] = MappingProxyType(
    {
        "__iter__": "__aiter__",
        "__next__": "__anext__",
        "__enter__": "__aenter__",
        "__exit__": "__aexit__",
    }
)


def _refused(class_name: str) -> Reasons:
    return MappingProxyType(
        {
            "__iter__": (
                f"PyMongo sets {class_name}.__iter__ to None, since a {class_name} cannot be iterated; "
                "its Motor class supports neither for nor async for."
            ),
            "__next__": (
                f"PyMongo's {class_name}.__next__ only raises TypeError, since a {class_name} is not an "
                "iterator; its Motor class has no __anext__ either."
            ),
        }
    )


#: PyMongo classes whose synchronous protocol dunders exist only to refuse the protocol: Motor
#: offers no asynchronous replacement for these, and its classes must refuse the synchronous
#: protocol too.
REFUSED_SYNC_PROTOCOL: Final[Mapping[type, Reasons]] = MappingProxyType(
    {
        MongoClient: _refused("MongoClient"),
        Database: _refused("Database"),
        Collection: _refused("Collection"),
    }
)


def _merged(table: Mapping[type, Reasons], pymongo_class: type) -> dict[str, str]:
    merged: dict[str, str] = {}
    for klass in reversed(pymongo_class.__mro__):
        merged.update(table.get(klass, {}))
    return merged


def excluded_names(pymongo_class: type) -> dict[str, str]:
    """Return the public names of ``pymongo_class`` (or its bases) that Motor does not offer,
    with the reason for each."""
    return _merged(EXCLUDED, pymongo_class)


def refused_protocol(pymongo_class: type) -> dict[str, str]:
    """Return the protocol dunders of ``pymongo_class`` (or its bases) that PyMongo defines only to
    refuse, with the reason for each."""
    return _merged(REFUSED_SYNC_PROTOCOL, pymongo_class)
