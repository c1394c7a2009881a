"""Fetch the source distribution of the installed PyMongo, for its test suite.

``python -m synchro.fetch [synchrotest arguments]`` downloads it (once) into the cache directory
and runs :mod:`synchro.synchrotest` on it. ``SYNCHRO_CACHE`` sets the cache directory; by default it
is ``.synchro-cache/`` beside the ``synchro`` package.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import tarfile
from pathlib import Path

__all__ = ["cache_dir", "fetch", "installed_version", "source_dir"]


def installed_version() -> str:
    """The installed PyMongo's version."""
    return importlib.metadata.version("pymongo")


def cache_dir() -> Path:
    """Where source distributions are downloaded and unpacked."""
    env = os.environ.get("SYNCHRO_CACHE")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent / ".synchro-cache"


def source_dir(version: str | None = None) -> Path:
    """Where the unpacked source of PyMongo ``version`` (the installed one by default) lives."""
    return cache_dir() / f"pymongo-{version or installed_version()}"


def fetch(version: str | None = None, quiet: bool = False) -> Path:
    """Return the unpacked source of PyMongo ``version``, downloading it first if needed.

    :raises RuntimeError: if pip cannot download it.
    """
    version = version or installed_version()
    target = source_dir(version)
    if (target / "test" / "__init__.py").exists():
        return target
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    archive = cache / f"pymongo-{version}.tar.gz"
    if not archive.exists():
        command = [
            sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps",
            f"pymongo=={version}", "-d", str(cache),
        ]  # fmt: skip
        if not quiet:
            print("synchro: downloading", f"pymongo=={version}", "source", flush=True)
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0 or not archive.exists():
            raise RuntimeError(f"pip could not download pymongo=={version}:\n{result.stdout}{result.stderr}")
    with tarfile.open(archive) as tar:
        tar.extractall(cache, filter="data")
    if not (target / "test" / "__init__.py").exists():
        raise RuntimeError(f"{archive} has no test suite at {target / 'test'}")
    return target


def main(argv: list[str] | None = None) -> int:
    """Fetch the suite, then run synchrotest on it with the given arguments."""
    from synchro import synchrotest

    args = list(sys.argv[1:] if argv is None else argv)
    return synchrotest.main(["--fetch", *args])


if __name__ == "__main__":
    sys.exit(main())
