"""Explicit client-side field level encryption, with a local KMS master key.

Features that need mongocryptd or crypt_shared (automatic encryption, queryable encryption's
query analysis) are not available on this machine and are skipped with that reason.
"""

from __future__ import annotations

import os
import shutil
import uuid
from typing import Any

import pytest
from bson.binary import Binary, UuidRepresentation
from bson.codec_options import CodecOptions
from pymongo.encryption import Algorithm
from pymongo.encryption_options import AutoEncryptionOpts
from pymongo.errors import EncryptionError

pytest.importorskip("pymongocrypt", reason="needs the encryption extra (pymongocrypt)")

pytestmark = pytest.mark.every_framework

KEY_VAULT_DB = "motor_test_keyvault"
KEY_VAULT_NAMESPACE = f"{KEY_VAULT_DB}.datakeys"
CODEC_OPTIONS: CodecOptions[dict[str, Any]] = CodecOptions(uuid_representation=UuidRepresentation.STANDARD)
DETERMINISTIC = Algorithm.AEAD_AES_256_CBC_HMAC_SHA_512_Deterministic
RANDOM = Algorithm.AEAD_AES_256_CBC_HMAC_SHA_512_Random


@pytest.fixture(scope="module")
def kms_providers() -> dict[str, Any]:
    return {"local": {"key": os.urandom(96)}}


@pytest.fixture
async def encryption(flavor: Any, client: Any, kms_providers: dict[str, Any]) -> Any:
    await client[KEY_VAULT_DB].datakeys.drop()
    async with flavor.cls("ClientEncryption")(
        kms_providers, KEY_VAULT_NAMESPACE, client, CODEC_OPTIONS
    ) as client_encryption:
        yield client_encryption


async def test_class_and_loop(flavor: Any, encryption: Any, client: Any) -> None:
    assert isinstance(encryption, flavor.cls("ClientEncryption"))
    assert encryption.io_loop is client.io_loop


async def test_data_key_round_trip_deterministic_and_random(encryption: Any) -> None:
    key_id = await encryption.create_data_key("local", key_alt_names=["first"])
    assert isinstance(key_id, Binary) and key_id.subtype == 4

    deterministic_a = await encryption.encrypt("secret", DETERMINISTIC, key_id=key_id)
    deterministic_b = await encryption.encrypt("secret", DETERMINISTIC, key_id=key_id)
    random_a = await encryption.encrypt("secret", RANDOM, key_alt_name="first")
    random_b = await encryption.encrypt("secret", RANDOM, key_alt_name="first")

    assert deterministic_a == deterministic_b
    assert random_a != random_b
    assert deterministic_a.subtype == 6
    for ciphertext in (deterministic_a, random_a, random_b):
        assert await encryption.decrypt(ciphertext) == "secret"


async def test_key_alt_names(encryption: Any) -> None:
    key_id = await encryption.create_data_key("local")
    await encryption.add_key_alt_name(key_id, "alias")
    found = await encryption.get_key_by_alt_name("alias")
    assert found["_id"] == key_id

    removed = await encryption.remove_key_alt_name(key_id, "alias")
    assert removed["_id"] == key_id
    assert await encryption.get_key_by_alt_name("alias") is None
    assert (await encryption.get_key(key_id))["_id"] == key_id


async def test_get_keys_is_a_cursor_and_delete_key(flavor: Any, encryption: Any) -> None:
    ids = {await encryption.create_data_key("local") for _ in range(3)}
    cursor = await encryption.get_keys()
    assert isinstance(cursor, flavor.cls("Cursor"))
    assert {key["_id"] async for key in cursor} == ids

    deleted = ids.pop()
    result = await encryption.delete_key(deleted)
    assert result.deleted_count == 1
    assert {key["_id"] for key in await (await encryption.get_keys()).to_list(None)} == ids


async def test_rewrap_many_data_key(encryption: Any) -> None:
    key_id = await encryption.create_data_key("local")
    ciphertext = await encryption.encrypt(42, DETERMINISTIC, key_id=key_id)
    before = await encryption.get_key(key_id)

    result = await encryption.rewrap_many_data_key({})
    assert result.bulk_write_result.modified_count == 1

    after = await encryption.get_key(key_id)
    assert after["keyMaterial"] != before["keyMaterial"]
    assert await encryption.decrypt(ciphertext) == 42


async def test_unknown_key_fails_clearly(encryption: Any) -> None:
    with pytest.raises(EncryptionError, match="not all keys requested were satisfied"):
        await encryption.encrypt("x", DETERMINISTIC, key_id=Binary(uuid.uuid4().bytes, 4))


async def test_auto_decrypting_client_reads_explicitly_encrypted_fields(
    flavor: Any, encryption: Any, coll: Any, mongodb_uri: str, kms_providers: dict[str, Any]
) -> None:
    key_id = await encryption.create_data_key("local")
    ssn = await encryption.encrypt("457-55-5462", DETERMINISTIC, key_id=key_id)
    await coll.insert_one({"_id": 1, "ssn": ssn})

    # bypass_auto_encryption leaves encryption to us and needs no mongocryptd; decryption is automatic.
    options = AutoEncryptionOpts(kms_providers, KEY_VAULT_NAMESPACE, bypass_auto_encryption=True)
    async with flavor.Client(mongodb_uri, auto_encryption_opts=options) as decrypting:
        document = await decrypting[coll.database.name][coll.name].find_one({"_id": 1})
    assert document == {"_id": 1, "ssn": "457-55-5462"}
    assert (await coll.find_one({"_id": 1}))["ssn"] == ssn


async def test_key_vault_client_must_be_same_framework(flavor: Any, kms_providers: dict[str, Any]) -> None:
    with pytest.raises(TypeError, match="key_vault_client"):
        flavor.cls("ClientEncryption")(kms_providers, KEY_VAULT_NAMESPACE, object(), CODEC_OPTIONS)


async def test_automatic_encryption(
    flavor: Any, encryption: Any, coll: Any, mongodb_uri: str, kms_providers: dict[str, Any]
) -> None:
    if shutil.which("mongocryptd") is None and not os.environ.get("CRYPT_SHARED_LIB_PATH"):
        pytest.skip("automatic encryption needs mongocryptd or crypt_shared, which this machine lacks")
    key_id = await encryption.create_data_key("local")
    schema = {
        "bsonType": "object",
        "properties": {
            "ssn": {"encrypt": {"keyId": [key_id], "bsonType": "string", "algorithm": DETERMINISTIC}}
        },
    }
    namespace = f"{coll.database.name}.{coll.name}"
    options = AutoEncryptionOpts(
        kms_providers,
        KEY_VAULT_NAMESPACE,
        schema_map={namespace: schema},
        crypt_shared_lib_path=os.environ.get("CRYPT_SHARED_LIB_PATH"),
    )
    async with flavor.Client(mongodb_uri, auto_encryption_opts=options) as encrypting:
        await encrypting[coll.database.name][coll.name].insert_one({"_id": 1, "ssn": "457-55-5462"})
    stored = await coll.find_one({"_id": 1})
    assert isinstance(stored["ssn"], Binary) and stored["ssn"].subtype == 6
