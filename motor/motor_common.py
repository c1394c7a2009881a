"""Motor 3's module of shared helpers, kept for the code that imports from it."""

from __future__ import annotations

__all__ = ["callback_type_error"]

#: The error a legacy callback-taking method (``cursor.each``) raises when not given a callable.
callback_type_error = TypeError("callback must be a callable")
