"""Security: SCRAM-SHA-256 authentication, TLS, and passwords kept out of reprs, errors and logs.

These tests always start SecantusDB servers of their own (with ``--auth``, with TLS
certificates that the test makes), whatever ``MONGODB_URI`` says.
"""

from __future__ import annotations

import logging
import traceback
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.errors import OperationFailure, ServerSelectionTimeoutError

from motor.testing import SecantusServer, free_port
from test.support import Flavor

pytestmark = pytest.mark.every_framework

USER = "motor-user"
PASSWORD = "Pa55-w0rd_that-must-not-leak"
WRONG_PASSWORD = "Wr0ng-pa55word_also-secret"


# ---------------------------------------------------------------------------------------------
# SCRAM-SHA-256
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecantusServer]:
    """A server with a user, started with ``--auth`` on the data directory the user was made in."""
    data = tmp_path_factory.mktemp("auth-data")
    port = free_port()
    with SecantusServer(port=port, storage_path=data) as setup:
        client: MongoClient[Any] = MongoClient(setup.uri)
        client.admin.command("createUser", USER, pwd=PASSWORD, roles=["root"])
        client.close()
    with SecantusServer(port=port, storage_path=data, extra_args=["--auth"]) as server:
        yield server


def all_log_text(records: list[logging.LogRecord]) -> str:
    text = []
    for record in records:
        text.append(record.getMessage())
        text.append(repr(record.args))
        if record.exc_info and record.exc_info[1] is not None:
            text.extend(traceback.format_exception(record.exc_info[1]))
    return "\n".join(text)


def error_text(exc: BaseException) -> str:
    details = getattr(exc, "details", None)
    return "\n".join([str(exc), repr(exc), repr(details), *traceback.format_exception(exc)])


async def test_scram_sha_256_with_correct_credentials(flavor: Flavor, auth_server: SecantusServer) -> None:
    client = flavor.Client(auth_server.uri, username=USER, password=PASSWORD, authMechanism="SCRAM-SHA-256")
    try:
        coll = client.secure[f"things_{flavor}"]
        await coll.insert_one({"_id": 1})
        assert await coll.find_one() == {"_id": 1}
        assert "secure" in await client.list_database_names()
        await coll.drop()
    finally:
        await client.aclose()


async def test_credentials_in_the_uri(flavor: Flavor, auth_server: SecantusServer) -> None:
    user, password = urllib.parse.quote_plus(USER), urllib.parse.quote_plus(PASSWORD)
    uri = f"mongodb://{user}:{password}@127.0.0.1:{auth_server.port}/?replicaSet=secantus"
    client = flavor.Client(uri, authMechanism="SCRAM-SHA-256")
    try:
        assert (await client.admin.command("ping"))["ok"]
        assert PASSWORD not in repr(client)
    finally:
        await client.aclose()


async def test_wrong_password_is_rejected_at_the_first_operation(
    flavor: Flavor, auth_server: SecantusServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # Creating the client does no I/O and raises nothing: the first operation authenticates.
    client = flavor.Client(
        auth_server.uri,
        username=USER,
        password=WRONG_PASSWORD,
        authMechanism="SCRAM-SHA-256",
        serverSelectionTimeoutMS=5000,
    )
    try:
        with pytest.raises(OperationFailure) as info:
            await client.secure.things.find_one()
        assert info.value.code == 18  # AuthenticationFailed
        assert "auth" in str(info.value).lower()
    finally:
        await client.aclose()
    assert WRONG_PASSWORD not in error_text(info.value)
    assert any(r.name.startswith("pymongo") for r in caplog.records), "PyMongo logged nothing"
    logged = all_log_text(caplog.records)
    assert WRONG_PASSWORD not in logged
    assert PASSWORD not in logged


async def test_no_credentials_is_refused(flavor: Flavor, auth_server: SecantusServer) -> None:
    client = flavor.Client(auth_server.uri)
    try:
        with pytest.raises(OperationFailure) as info:
            await client.secure.things.find_one()
        assert info.value.code == 13  # Unauthorized
    finally:
        await client.aclose()


async def test_no_password_in_reprs_or_logs(
    flavor: Flavor, auth_server: SecantusServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    password = urllib.parse.quote_plus(PASSWORD)
    clients = [
        flavor.Client(auth_server.uri, username=USER, password=PASSWORD),
        flavor.Client(f"mongodb://{USER}:{password}@127.0.0.1:{auth_server.port}/?replicaSet=secantus"),
    ]
    try:
        for client in clients:
            db = client.secure
            coll = db.things
            await coll.insert_one({})
            session = await client.start_session()
            cursor = coll.find()
            await cursor.next()
            latent = coll.aggregate([])
            await latent.next()
            stream = coll.watch()
            objects = [client, db, coll, session, cursor, latent, stream, client.delegate]
            for obj in objects:
                assert PASSWORD not in repr(obj), repr(obj)
                assert password not in repr(obj), repr(obj)
                assert PASSWORD not in str(obj), str(obj)
            await stream.close()
            await cursor.close()
            await session.end_session()
    finally:
        for client in clients:
            await client.aclose()
    assert caplog.records
    assert PASSWORD not in all_log_text(caplog.records)


# ---------------------------------------------------------------------------------------------
# TLS
# ---------------------------------------------------------------------------------------------


def tls_server(ca_file: Path, cert_file: Path, key_file: Path) -> SecantusServer:
    """A SecantusDB speaking TLS only, pinged over TLS while it starts."""
    files = {"--tls-cert-file": cert_file, "--tls-key-file": key_file, "--tls-ca-file": ca_file}
    return SecantusServer(
        extra_args=[arg for option, path in files.items() for arg in (option, str(path))],
        client_options={"tls": True, "tlsCAFile": str(ca_file), "tlsAllowInvalidHostnames": True},
    )


@dataclass
class TLSSetup:
    ca_file: Path
    other_ca_file: Path
    server: SecantusServer  # Its certificate is for localhost and 127.0.0.1.
    wrong_host_server: SecantusServer  # Its certificate is for other.example only.


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TLSSetup]:
    trustme = pytest.importorskip("trustme")
    directory = tmp_path_factory.mktemp("tls")
    ca, other_ca = trustme.CA(), trustme.CA()
    ca_file, other_ca_file = directory / "ca.pem", directory / "other-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    other_ca.cert_pem.write_to_path(str(other_ca_file))

    def server_for(name: str, *hostnames: str) -> SecantusServer:
        cert = ca.issue_cert(*hostnames)
        cert_file, key_file = directory / f"{name}.pem", directory / f"{name}.key"
        for i, pem in enumerate(cert.cert_chain_pems):
            pem.write_to_path(str(cert_file), append=i > 0)
        cert.private_key_pem.write_to_path(str(key_file))
        return tls_server(ca_file, cert_file, key_file)

    with (
        server_for("server", "localhost", "127.0.0.1") as server,
        server_for("wrong-host", "other.example") as wrong_host_server,
    ):
        yield TLSSetup(ca_file, other_ca_file, server, wrong_host_server)


async def test_tls_verified_connection(flavor: Flavor, tls: TLSSetup) -> None:
    client = flavor.Client(tls.server.uri, tls=True, tlsCAFile=str(tls.ca_file))
    try:
        coll = client.secure[f"tls_{flavor}"]
        await coll.insert_one({"_id": 1})
        assert await coll.find_one() == {"_id": 1}
        await coll.drop()
    finally:
        await client.aclose()
    client = flavor.Client(
        f"mongodb://localhost:{tls.server.port}/?directConnection=true&tls=true&tlsCAFile={tls.ca_file}"
    )
    try:
        assert (await client.admin.command("ping"))["ok"]
    finally:
        await client.aclose()


async def test_tls_hostname_mismatch(flavor: Flavor, tls: TLSSetup) -> None:
    client = flavor.Client(
        f"mongodb://localhost:{tls.wrong_host_server.port}/?directConnection=true",
        tls=True,
        tlsCAFile=str(tls.ca_file),
        serverSelectionTimeoutMS=1000,
    )
    try:
        with pytest.raises(ServerSelectionTimeoutError) as info:
            await client.admin.command("ping")
    finally:
        await client.aclose()
    message = str(info.value)
    assert "certificate" in message
    assert "Hostname mismatch" in message or "not valid for 'localhost'" in message, message


async def test_tls_untrusted_certificate(flavor: Flavor, tls: TLSSetup) -> None:
    client = flavor.Client(
        tls.server.uri, tls=True, tlsCAFile=str(tls.other_ca_file), serverSelectionTimeoutMS=1000
    )
    try:
        with pytest.raises(ServerSelectionTimeoutError) as info:
            await client.admin.command("ping")
    finally:
        await client.aclose()
    assert "certificate verify failed" in str(info.value)


async def test_plaintext_client_cannot_talk_to_a_tls_server(flavor: Flavor, tls: TLSSetup) -> None:
    client = flavor.Client(tls.server.uri, serverSelectionTimeoutMS=1000)
    try:
        with pytest.raises(ServerSelectionTimeoutError):
            await client.admin.command("ping")
    finally:
        await client.aclose()
