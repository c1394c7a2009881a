"""Motor's build backend: setuptools, with editable installs in setuptools' "compat" mode.

By default ``pip install -e .`` gets from setuptools an import hook (a meta-path finder) for a
project laid out like Motor's, and static analysers such as mypy cannot follow an import hook: run
from outside the clone, mypy would not find Motor, its ``py.typed`` marker or its stubs. In compat
mode the editable install is a ``.pth`` file naming the clone's root instead, which every tool
follows. Passing ``--config-settings editable_mode=...`` still chooses another mode.

setuptools calls compat mode transitional and warns about it at every editable install; the warning
is silenced here because the choice is deliberate. Should a future setuptools drop the mode, the
same effect is a ``.pth`` file naming the clone's root, added to the editable wheel.
"""

from __future__ import annotations

import warnings
from typing import Any

from setuptools import build_meta as _setuptools
from setuptools.build_meta import *  # noqa: F403 - every other hook is setuptools' own.


def build_editable(
    wheel_directory: str,
    config_settings: dict[str, Any] | None = None,
    metadata_directory: str | None = None,
) -> str:
    settings = dict(config_settings or {})
    if "editable_mode" not in settings and "editable-mode" not in settings:
        settings["editable_mode"] = "compat"
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Compat editable installs")
        return _setuptools.build_editable(wheel_directory, settings, metadata_directory)
