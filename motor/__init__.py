"""Motor: the asynchronous Python driver for MongoDB, for asyncio and Tornado.

``motor.motor_asyncio`` has the asyncio classes (``AsyncIOMotorClient``, ...);
``motor.motor_tornado`` has the Tornado classes (``MotorClient``, ...), which this package also
exports, as Motor always has.
"""

from motor._version import version, version_tuple

__all__ = ["get_version_string", "version", "version_tuple"]


def get_version_string() -> str:
    """Return Motor's version, such as ``"4.0.0"`` (Motor 3's function; :data:`version` is the same)."""
    return version


try:
    import tornado  # noqa: F401
except ImportError:  # Tornado is an optional extra; the asyncio classes do not need it.
    pass
else:
    from motor import motor_tornado as _motor_tornado
    from motor.motor_tornado import *  # noqa: F403

    __all__.extend(_motor_tornado.__all__)
