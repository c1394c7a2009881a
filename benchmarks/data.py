# ruff: noqa: S311 - seeded generators make deterministic data, not secrets
"""Deterministic synthetic documents of the driver benchmarking spec's shapes and sizes.

The spec's data files are real tweets and random documents; these are generated instead (no
download), from a fixed seed, with the same shapes and the same BSON sizes:

- :data:`TWEET` — a tweet-like document of nested sub-documents and arrays, 1,622 bytes of BSON;
- :data:`SMALL_DOC` — a flat document of short strings and numbers, 275 bytes;
- :func:`large_doc` (LARGE_DOC) — a flat document of thousands of mixed fields, 2,731,089 bytes.

None has an ``_id``: the workloads add one where the spec does.
"""

from __future__ import annotations

import datetime
import functools
import random
import string
from typing import Any

import bson

__all__ = [
    "GRIDFS_CHUNK_SIZE",
    "GRIDFS_SIZE",
    "LARGE_DOC_SIZE",
    "SMALL_DOC",
    "SMALL_DOC_SIZE",
    "TWEET",
    "TWEET_SIZE",
    "bson_size",
    "gridfs_data",
    "large_doc",
]

#: Target BSON sizes, in bytes, of the spec's data files.
TWEET_SIZE = 1622
SMALL_DOC_SIZE = 275
LARGE_DOC_SIZE = 2_731_089
#: The spec's GridFS file: 52.43 MB, and GridFS's default chunk size.
GRIDFS_SIZE = 52_428_800
GRIDFS_CHUNK_SIZE = 255 * 1024

_LETTERS = string.ascii_letters + string.digits


def bson_size(document: Any) -> int:
    """The size of ``document`` encoded as BSON."""
    return len(bson.encode(document))


def _word(rng: random.Random, low: int = 3, high: int = 10) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(low, high)))


def _text(rng: random.Random, words: int) -> str:
    return " ".join(_word(rng) for _ in range(words))


def _key(rng: random.Random) -> str:
    return "".join(rng.choice(_LETTERS) for _ in range(8))


def _pad(document: dict[str, Any], field: str, target: int) -> dict[str, Any]:
    """Grow (or shrink) the string ``document[field]`` so that the document encodes to ``target`` bytes."""
    document[field] = ""
    missing = target - bson_size(document)
    if missing < 0:
        raise ValueError(f"document is already {-missing} bytes over {target}")
    document[field] = "x" * missing
    assert bson_size(document) == target
    return document


def _make_tweet() -> dict[str, Any]:
    rng = random.Random(1622)
    created = datetime.datetime(2013, 6, 27, 15, 42, 41, tzinfo=datetime.UTC)
    user = {
        "id": 1_234_567_890,
        "id_str": "1234567890",
        "name": "Benchmark User",
        "screen_name": "bench_user",
        "location": "Somewhere",
        "description": _text(rng, 12),
        "url": None,
        "entities": {"description": {"urls": []}},
        "protected": False,
        "followers_count": 262,
        "friends_count": 137,
        "listed_count": 0,
        "created_at": "Wed Mar 28 00:48:43 +0000 2012",
        "favourites_count": 124,
        "utc_offset": -18000,
        "time_zone": "Central Time (US & Canada)",
        "geo_enabled": True,
        "verified": False,
        "statuses_count": 4811,
        "lang": "en",
        "profile_background_color": "C0DEED",
        "profile_image_url": "http://example.invalid/profile_images/normal.jpeg",
        "default_profile": True,
        "following": None,
        "follow_request_sent": None,
        "notifications": None,
    }
    tweet: dict[str, Any] = {
        "text": _text(rng, 14),
        "in_reply_to_status_id": None,
        "retweet_count": 0,
        "contributors": None,
        "created_at": created.strftime("%a %b %d %H:%M:%S +0000 %Y"),
        "geo": None,
        "source": "web",
        "coordinates": None,
        "in_reply_to_screen_name": None,
        "truncated": False,
        "entities": {
            "user_mentions": [
                {"indices": [0, 10], "screen_name": "someone", "name": "Some One", "id": 42, "id_str": "42"}
            ],
            "hashtags": [{"indices": [20, 28], "text": _word(rng)}],
            "urls": [],
        },
        "retweeted": False,
        "place": None,
        "user": user,
        "favorited": False,
        "in_reply_to_user_id_str": None,
        "in_reply_to_user_id": None,
        "id_str": "350308390213255168",
        "id": 350_308_390_213_255_168,
        "lang": "en",
        "filter_level": "medium",
        "favorite_count": 0,
    }
    return _pad(tweet, "padding", TWEET_SIZE)


def _make_small_doc() -> dict[str, Any]:
    rng = random.Random(275)
    document: dict[str, Any] = {}
    for index in range(11):
        key = _key(rng)
        if index % 3 == 0:
            document[key] = rng.randint(0, 2**31 - 1)
        elif index % 3 == 1:
            document[key] = _word(rng, 8, 12)
        else:
            document[key] = rng.random()
    return _pad(document, _key(rng), SMALL_DOC_SIZE)


def _make_large_doc() -> dict[str, Any]:
    rng = random.Random(2_731_089)
    document: dict[str, Any] = {}
    while bson_size(document) < LARGE_DOC_SIZE - 200_000:
        # Write a slab of fields at a time; encoding after each field would be quadratic.
        for _ in range(500):
            key = _key(rng)
            kind = rng.randrange(5)
            if kind == 0:
                document[key] = rng.randint(-(2**31), 2**31 - 1)
            elif kind == 1:
                document[key] = rng.random() * 1e6
            elif kind == 2:
                document[key] = _text(rng, rng.randint(20, 60))
            elif kind == 3:
                document[key] = [_word(rng) for _ in range(rng.randint(2, 8))]
            else:
                document[key] = {"a": _word(rng), "b": rng.randint(0, 1000), "c": rng.random() > 0.5}
    return _pad(document, _key(rng), LARGE_DOC_SIZE)


TWEET: dict[str, Any] = _make_tweet()
SMALL_DOC: dict[str, Any] = _make_small_doc()


@functools.cache
def large_doc() -> dict[str, Any]:
    """LARGE_DOC, built on first use (it takes most of a second)."""
    return _make_large_doc()


def gridfs_data(size: int = GRIDFS_SIZE) -> bytes:
    """``size`` deterministic pseudo-random bytes: the file of the GridFS workloads."""
    return random.Random(52).randbytes(size)
