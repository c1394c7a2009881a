"""Motor's classes for Tornado."""

from __future__ import annotations

from typing import Any

from motor import core, motor_gridfs
from motor.frameworks import tornado as tornado_framework
from motor.metaprogramming import create_class_with_framework

__all__ = [
    "MotorChangeStream",
    "MotorClient",
    "MotorClientEncryption",
    "MotorClientSession",
    "MotorCollection",
    "MotorCommandCursor",
    "MotorCursor",
    "MotorDatabase",
    "MotorGridFSBucket",
    "MotorGridIn",
    "MotorGridOut",
    "MotorGridOutCursor",
    "MotorLatentCommandCursor",
    "MotorRawBatchCommandCursor",
    "MotorRawBatchCursor",
]


def create_motor_class(cls: type[Any]) -> type[Any]:
    """Return ``cls``'s Tornado class."""
    return create_class_with_framework(cls, tornado_framework, "motor.motor_tornado")


MotorClient = create_motor_class(core.AgnosticClient)
MotorDatabase = create_motor_class(core.AgnosticDatabase)
MotorCollection = create_motor_class(core.AgnosticCollection)
MotorCursor = create_motor_class(core.AgnosticCursor)
MotorRawBatchCursor = create_motor_class(core.AgnosticRawBatchCursor)
MotorCommandCursor = create_motor_class(core.AgnosticCommandCursor)
MotorRawBatchCommandCursor = create_motor_class(core.AgnosticRawBatchCommandCursor)
MotorLatentCommandCursor = create_motor_class(core.AgnosticLatentCommandCursor)
MotorChangeStream = create_motor_class(core.AgnosticChangeStream)
MotorClientSession = create_motor_class(core.AgnosticClientSession)
MotorClientEncryption = create_motor_class(core.AgnosticClientEncryption)
MotorGridFSBucket = create_motor_class(motor_gridfs.AgnosticGridFSBucket)
MotorGridIn = create_motor_class(motor_gridfs.AgnosticGridIn)
MotorGridOut = create_motor_class(motor_gridfs.AgnosticGridOut)
MotorGridOutCursor = create_motor_class(motor_gridfs.AgnosticGridOutCursor)
