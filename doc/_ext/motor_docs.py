"""Sphinx helpers for Motor's API reference.

- Each generated method or property whose docstring comes from PyMongo gets a first line saying
  how Motor offers it (awaitable, chaining, ...), read from the declarations in :mod:`motor.core`.
- ``.. motor-declarations:: motor.core.AgnosticCollection`` renders a table of a class's
  declarations, so the reference never drifts from the code.
- ``.. motor-classes:: asyncio`` documents the generated classes of a framework of the registry
  (:data:`motor.frameworks.FRAMEWORKS`), one per agnostic class, so a page lists them all; with
  ``:names:``, it only names them, in a sentence.
"""

from __future__ import annotations

import importlib
from typing import Any, ClassVar

from docutils import nodes
from docutils.parsers.rst import Directive, directives
from docutils.statemachine import StringList
from sphinx.application import Sphinx

from motor.core import AgnosticBaseCursor, AgnosticChangeStream, AgnosticClientSession
from motor.frameworks import AGNOSTIC_CLASSES, registered
from motor.metaprogramming import AgnosticBase, AttributeKind, MotorAttributeFactory, declarations

#: Classes whose instances Motor creates: their constructor signatures are not shown.
INTERNAL_CONSTRUCTORS = (AgnosticBaseCursor, AgnosticChangeStream, AgnosticClientSession)

#: What a reader needs to know about each kind, said once per member.
KIND_NOTES = {
    AttributeKind.AWAITABLE: (
        "*Awaitable.* Runs PyMongo's ``{target}`` on the client's thread pool and returns a Future of "
        "its result; ``await`` it."
    ),
    AttributeKind.METHOD: "*Runs at once* on the caller's thread (it does no I/O): do not ``await`` it.",
    AttributeKind.CHAINING: (
        "*Chaining.* Sets the option on the cursor and returns the same cursor, without I/O."
    ),
    AttributeKind.CURSOR: (
        "*Returns a cursor at once*, without I/O: the server is asked when you iterate it "
        "(``async for``, ``to_list()``, ``next()``)."
    ),
    AttributeKind.PROPERTY: "*Property*, read at once from PyMongo's ``{target}``.",
}


def _agnostic_class(cls: type) -> type | None:
    """The first framework-agnostic class in ``cls``'s MRO (``cls`` itself if it is agnostic)."""
    if not (isinstance(cls, type) and issubclass(cls, AgnosticBase)):
        return None
    for klass in cls.__mro__:
        if "_framework" not in vars(klass):
            return klass
    return None


def _resolve(dotted: str) -> Any:
    """The object at ``dotted`` (a module, or an attribute path inside one), or ``None``."""
    parts = dotted.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        try:
            for part in parts[split:]:
                obj = getattr(obj, part)
        except AttributeError:
            return None
        return obj
    return None


def _declaration_for(name: str) -> tuple[type, MotorAttributeFactory] | None:
    owner_name, _, attr = name.rpartition(".")
    agnostic = _agnostic_class(_resolve(owner_name)) if owner_name else None
    if agnostic is None:
        return None
    declaration = declarations(agnostic).get(attr)
    return None if declaration is None else (agnostic, declaration)


def annotate_docstring(app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    if what not in {"method", "property", "attribute"}:
        return
    found = _declaration_for(name)
    if found is None:
        return
    agnostic, declaration = found
    pymongo_class = agnostic.__delegate_class__
    target = f"{pymongo_class.__name__}.{declaration.pymongo_name}"
    note = KIND_NOTES[declaration.kind].format(target=target)
    lines[:0] = [note, ""]


def hide_internal_signature(
    app: Sphinx,
    what: str,
    name: str,
    obj: Any,
    options: Any,
    signature: str | None,
    return_annotation: str | None,
) -> tuple[str, str | None] | None:
    """Drop the constructor signature of classes that only Motor creates (cursors, sessions, ...).

    Users get them from methods (``find()``, ``watch()``, ``start_session()``); their constructors
    take Motor's internals.
    """
    if what != "class" or not isinstance(obj, type) or not issubclass(obj, INTERNAL_CONSTRUCTORS):
        return None
    return "", return_annotation


class DeclarationsTable(Directive):
    """``.. motor-declarations:: dotted.path.to.AgnosticClass``: a table of its declarations."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        cls = _resolve(self.arguments[0])
        if not (isinstance(cls, type) and issubclass(cls, AgnosticBase)):
            raise self.error(f"{self.arguments[0]} is not a Motor agnostic class")
        rows = [
            (name, type(declaration).__name__, declaration.kind.value, declaration.pymongo_name or name)
            for name, declaration in sorted(declarations(cls).items())
        ]
        table = nodes.table()
        group = nodes.tgroup(cols=4)
        table += group
        for width in (25, 25, 15, 25):
            group += nodes.colspec(colwidth=width)
        header = ("attribute", "declaration", "kind", f"{cls.__delegate_class__.__name__} attribute")
        thead = nodes.thead()
        thead += self._row(header)
        group += thead
        tbody = nodes.tbody()
        for row in rows:
            tbody += self._row(row, literal=True)
        group += tbody
        return [table]

    @staticmethod
    def _row(cells: tuple[str, ...], literal: bool = False) -> nodes.row:
        row = nodes.row()
        for text in cells:
            entry = nodes.entry()
            paragraph = nodes.paragraph()
            paragraph += nodes.literal(text=text) if literal else nodes.Text(text)
            entry += paragraph
            row += entry
        return row


class FrameworkClasses(Directive):
    """``.. motor-classes:: NAME``: the generated classes of framework NAME of the registry.

    By default, an ``autoclass`` of each, with its members; with ``:names:``, a sentence naming them
    (for a page that says they have the members of the asyncio classes).
    """

    required_arguments = 1
    option_spec: ClassVar[dict[str, Any]] = {"names": directives.flag}

    def run(self) -> list[nodes.Node]:
        try:
            entry = registered(self.arguments[0])
        except LookupError as exc:
            raise self.error(str(exc)) from None
        names = [
            entry.class_name(_resolve(f"{module}.{name}").__motor_class_name__)
            for module, name in AGNOSTIC_CLASSES
        ]
        if "names" in self.options:
            listed = ", ".join(f"``{name}``" for name in names[:-1])
            lines = [f"The classes are {listed} and ``{names[-1]}``."]
        else:
            lines = []
            for name in names:
                lines += [
                    f".. autoclass:: {entry.classes_module}.{name}",
                    "   :members:",
                    "   :inherited-members:",
                    "",
                ]
        container = nodes.container()
        self.state.nested_parse(StringList(lines, source=self.arguments[0]), self.content_offset, container)
        return list(container.children)


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("autodoc-process-docstring", annotate_docstring)
    app.connect("autodoc-process-signature", hide_internal_signature)
    app.add_directive("motor-declarations", DeclarationsTable)
    app.add_directive("motor-classes", FrameworkClasses)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
