"""Sphinx configuration for Motor's documentation.

Build with ``tox -e docs`` or ``sphinx-build -W -b html doc doc/_build/html``; any warning fails the
build. The build needs no network: there is no intersphinx, so PyMongo's and Python's objects are
named in plain text or linked to their sites.
"""

from __future__ import annotations

import sys
from pathlib import Path

DOC = Path(__file__).resolve().parent
# Document the clone's motor package even when it is not installed, and load our extension.
sys.path[:0] = [str(DOC.parent), str(DOC / "_ext")]

import motor  # noqa: E402

project = "Motor"
author = "Motor contributors"
project_copyright = "Motor contributors"
release = motor.version
version = ".".join(str(part) for part in motor.version_tuple[:2])

extensions = ["sphinx.ext.autodoc", "sphinx.ext.viewcode", "motor_docs"]

root_doc = "index"
exclude_patterns = ["_build"]
pygments_style = "sphinx"

html_theme = "alabaster"
html_title = f"Motor {release}"
html_theme_options = {"description": "Asynchronous Python driver for MongoDB", "fixed_sidebar": True}

autodoc_member_order = "groupwise"
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
