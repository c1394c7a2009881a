"""The one table of PyMongo tests that Synchro does not run, each with its reason.

A key is a path relative to PyMongo's source directory: a whole module (``test/test_pooling.py``),
or a test or test class in pytest's node-id form (``test/test_client.py::TestClient::test_x``),
where ``*`` matches any characters (for tests generated in a loop).
An entry whose reason starts with :data:`MOTOR_GAP` is not a test that cannot apply to a wrapper
but a gap of Motor's own, written up with its fix: the test still runs, marked as an expected
failure (strictly: once Motor is fixed it passes, and the run fails until the entry goes).

``python -m synchro.synchrotest --check-exclusions`` fails when an entry names a module that does
not exist, or a test that the run collected nothing for: the table must not go stale.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

__all__ = ["EXCLUSIONS", "FLAKY", "MOTOR_GAP", "excluded_modules", "excluded_tests"]

#: The start of the reason of an entry that is a gap in Motor (an expected failure).
MOTOR_GAP = "Motor gap: "

_DRIVER_INFO = (
    "compares the handshake metadata with PyMongo's exactly; Motor appends its own DriverInfo "
    "(name Motor, its version, and the framework in platform) to every client's handshake"
)
_LEGACY_GRIDFS = "uses the legacy gridfs.GridFS API, which Motor does not offer (Motor offers GridFSBucket)"

_WORKERS_PER_CONNECTION = (
    "expects two threads' operations to queue in PyMongo's pool of maxPoolSize=1 connection; Motor "
    "runs at most maxPoolSize operations at once on its worker threads (doc/thread-pool.rst), so "
    "the second waits for a worker, and the pool events the test expects do not happen"
)
_DICT = (
    "compares a cursor's __dict__ with its clone's, that is PyMongo's private state; a Synchro "
    "cursor's __dict__ holds the Motor cursor"
)
_MOCK_CLIENT = (
    "subclasses PyMongo's MongoClient with mock topologies (test/pymongo_mocks.py) to fake server "
    "responses inside PyMongo's own machinery; a wrapper cannot be subclassed that way"
)

EXCLUSIONS: Final[Mapping[str, str]] = MappingProxyType(
    {
        # Whole modules.
        "test/test_mongos_load_balancing.py": _MOCK_CLIENT,
        "test/test_replica_set_reconfig.py": _MOCK_CLIENT,
        "test/test_gridfs.py": _LEGACY_GRIDFS,
        # Tests.
        "test/test_client.py::ClientUnitTest::test_metadata": _DRIVER_INFO,
        "test/test_client.py::ClientUnitTest::test_metadata_appends_driver_info": _DRIVER_INFO,
        "test/test_client.py::TestClient::test_handshake_*": _DRIVER_INFO,
        "test/test_session.py::TestSession::test_gridfs": _LEGACY_GRIDFS,
        "test/test_transactions.py::TestTransactions::test_gridfs_does_not_support_transactions": (
            _LEGACY_GRIDFS
        ),
        "test/test_client.py::TestMongoClientFailover": _MOCK_CLIENT,
        "test/test_client.py::TestClientPool": _MOCK_CLIENT,
        "test/test_grid_file.py::TestGridFile::test_grid_in_default_opts": _LEGACY_GRIDFS,
        "test/test_grid_file.py::TestGridFile::test_survive_cursor_not_found": (
            "kills the server cursor of PyMongo's GridOut._chunk_iter, which Motor's GridOut does not "
            "use: Motor reads chunks with its own reader, in batches of several chunks"
        ),
        "test/test_grid_file.py::TestGridFile::test_exception_file_non_existence": (
            "expects the chunks of an upload whose with-block raised to stay on the server; Motor's "
            "GridIn deletes them (async with aborts the upload on error, as Motor documents)"
        ),
        "test/test_retryable_reads.py::TestPoolPausedError::test_pool_paused_error_is_retryable": (
            _WORKERS_PER_CONNECTION
        ),
        "test/test_retryable_writes.py::TestPoolPausedError::test_pool_paused_error_is_retryable": (
            _WORKERS_PER_CONNECTION
        ),
        "test/test_cursor.py::TestCursor::test_clone": _DICT,
        "test/test_grid_file.py::TestGridFile::test_grid_out_cursor_options": _DICT,
        # Gaps in Motor: run, and expected to fail until Motor is fixed.
        "test/test_csot.py::TestCsotGridfsUpload::"
        "test_timeoutMS_applied_to_upload_as_a_whole,_not_individual_parts": (
            MOTOR_GAP + "GridFSBucket.upload_from_stream makes several PyMongo calls (ensure indexes, "
            "write, close), each with its own timeoutMS; PyMongo applies timeoutMS to the upload as a "
            "whole (@_csot.apply). Motor should open one pymongo.timeout() scope around the upload"
        ),
    }
)


#: Tests that ``--compare`` lets pass when they fail through Synchro and pass when run again, each
#: with the reason they are flaky (keys as in :data:`EXCLUSIONS`, ``*`` included). Any other test
#: that passes only when run again is a regression.
FLAKY: Final[Mapping[str, str]] = MappingProxyType({})


def excluded_modules() -> dict[str, str]:
    """The entries that exclude whole modules."""
    return {key: reason for key, reason in EXCLUSIONS.items() if "::" not in key}


def excluded_tests() -> dict[str, str]:
    """The entries that exclude tests or test classes."""
    return {key: reason for key, reason in EXCLUSIONS.items() if "::" in key}
