"""Generate Motor's type stubs (``.pyi``) from its declarations and the installed PyMongo.

Motor's classes are built at import time (see :mod:`motor.metaprogramming`), so a type checker
reading ``motor/core.py`` sees ``find_one = Async()``, not a method. This script writes, beside each
module, a stub that spells every class out:

- ``motor/core.pyi`` (and ``motor/motor_gridfs.pyi``): the framework-agnostic classes, in Motor's
  terms (``AgnosticCollection.find`` returns an ``AgnosticCursor``);
- ``motor/motor_asyncio.pyi``, ``motor/motor_tornado.pyi``, ``motor/motor_trio.pyi`` (one per
  framework of the registry,
  :data:`motor.frameworks.FRAMEWORKS`): one concrete class per generated class, in the framework's
  terms (``AsyncIOMotorCollection.find`` returns an
  ``AsyncIOMotorCursor``), subclassing its agnostic class as at run time.

A declared attribute gets PyMongo's parameters and annotations (read with :func:`inspect.signature`
from ``pymongo.synchronous``), with PyMongo's classes that Motor wraps replaced by Motor's, and a
return type that follows from its kind: a Future of PyMongo's result for an awaitable, ``Self``
for a cursor option, the framework's cursor for a cursor method. A hand-written attribute gets its
own annotations. ``doc/typing.rst`` describes the rules and their few deliberate refinements.

Usage::

    python tools/gen_stubs.py            # write the stubs
    python tools/gen_stubs.py --check    # exit 1, printing a diff, if a stub is out of date

A module listed below that does not exist (yet) is skipped.
"""

from __future__ import annotations

import argparse
import ast
import builtins
import difflib
import enum
import functools
import importlib
import importlib.util
import inspect
import re
import sys
import textwrap
import types
import typing
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import pymongo  # noqa: E402

from motor.frameworks import FRAMEWORKS  # noqa: E402
from motor.metaprogramming import (  # noqa: E402
    AgnosticBase,
    AttributeKind,
    MotorAttributeFactory,
    agnostic_class_for,
    declarations,
)

__all__ = [
    "AGNOSTIC_MODULES",
    "FRAMEWORK_MODULES",
    "OTHER_MODULES",
    "PROTOCOL_DUNDERS",
    "StubError",
    "check",
    "generate",
    "main",
    "write",
]

# ---------------------------------------------------------------------------------------------
# What is generated
# ---------------------------------------------------------------------------------------------

#: Modules of framework-agnostic classes. Each gets a stub declaring, in Motor's agnostic terms,
#: every name in its ``__all__``. Add a module of agnostic classes here, and its classes to
#: ``motor.frameworks.AGNOSTIC_CLASSES``, and the stubs follow.
AGNOSTIC_MODULES = ("motor.core", "motor.motor_gridfs")

#: Modules of generated classes (``create_class_with_framework``'s results), one per framework of
#: the registry. Each gets a stub declaring its classes concretely, in the framework's terms.
FRAMEWORK_MODULES = tuple(entry.classes_module for entry in FRAMEWORKS)

#: Hand-written modules that use the generated classes (``motor.web``, ``motor.aiohttp``): their
#: stubs restate their annotations, so that they read the generated classes from our stubs.
OTHER_MODULES = ("motor.web", "motor.aiohttp")

#: Dunders that are part of a class's public interface; other dunders (``__eq__``, ``__repr__``,
#: ...) are inherited from ``AgnosticBase`` or ``object`` and not restated.
PROTOCOL_DUNDERS = frozenset(
    {
        "__init__",
        "__aiter__",
        "__anext__",
        "__aenter__",
        "__aexit__",
        "__enter__",
        "__exit__",
        "__iter__",
        "__next__",
        "__getattr__",
        "__getitem__",
        "__bool__",
        "__len__",
        "__contains__",
        "__call__",
        "__await__",
    }
)

#: Hand-written methods the stubs leave out. A database's and a collection's ``__call__`` only
#: raise Motor 3's message for ``client.no_such_method()``; without them in the stubs, mypy reports
#: the misspelt method instead.
RUNTIME_ONLY = frozenset({("AgnosticCollection", "__call__"), ("AgnosticDatabase", "__call__")})

#: Hand-written methods whose runtime annotation says ``Any`` for what is one of the cursor's
#: documents: the stub says which, writing ``DOCUMENT`` for the document type of the cursor. That
#: is what PyMongo's ``next()`` of the wrapped class returns (``_DocumentType`` for a ``Cursor``,
#: ``GridOut`` for a ``GridOutCursor``, with Motor's class in place of PyMongo's), or
#: ``_DocumentType`` for a base class that wraps none. Keyed by the agnostic class that defines
#: the method, by name; the value replaces the return annotation. The generator fails if an entry
#: no longer names a hand-written method.
DOCUMENT_RETURNS: dict[tuple[str, str], str] = {
    ("AgnosticBaseCursor", "__anext__"): "DOCUMENT",
    ("AgnosticBaseCursor", "next"): "asyncio.Future[DOCUMENT]",
    ("AgnosticBaseCursor", "next_object"): "DOCUMENT | None",
    ("AgnosticBaseCursor", "to_list"): "asyncio.Future[list[DOCUMENT]]",
    ("AgnosticCommandCursor", "try_next"): "asyncio.Future[DOCUMENT | None]",
    ("AgnosticChangeStream", "__anext__"): "asyncio.Future[DOCUMENT]",
    ("AgnosticChangeStream", "next"): "asyncio.Future[DOCUMENT]",
    ("AgnosticChangeStream", "try_next"): "asyncio.Future[DOCUMENT | None]",
}

#: Hand-written attributes that return the framework's event loop (``Any`` at run time): the
#: framework stubs type them as the framework's ``get_event_loop`` returns.
EVENT_LOOP_ATTRIBUTES = frozenset({"io_loop", "get_io_loop"})

#: Packages whose annotations are followed to the module that defines each name, so that a stub
#: imports a name from where it is defined (mypy --strict does not allow implicit re-exports).
DEEP_PACKAGES = frozenset({"bson", "gridfs", "pymongo", "motor"})

#: The document type variable PyMongo's generic classes use; Motor's generic classes use it too.
DOCUMENT_TYPE = ("bson.typings", "_DocumentType")

LINE_LENGTH = 110
_P = inspect.Parameter
INDENT = "    "


def header() -> str:
    """The first line of every generated stub."""
    major, minor = pymongo.version_tuple[:2]
    return (
        f"# Generated by tools/gen_stubs.py from motor's declarations and PyMongo {major}.{minor}'s "
        "signatures; do not edit."
    )


class StubError(Exception):
    """A declaration or annotation the generator cannot turn into a stub."""


# ---------------------------------------------------------------------------------------------
# Resolving names in annotations
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ref:
    """Where a name in an annotation is defined: ``module.qualname``.

    ``module`` is ``"builtins"`` for a builtin. ``via_module`` is set when the annotation reached it
    as an attribute of a non-PyMongo module (``asyncio.Future``): the stub writes it the same way.
    """

    module: str
    name: str
    is_module: bool = False
    via_module: bool = False

    @property
    def obj(self) -> Any:
        """The object at run time, or ``None`` if it does not exist there (a TYPE_CHECKING name)."""
        if self.is_module:
            return importlib.import_module(self.module)
        try:
            value: Any = importlib.import_module(self.module)
        except ImportError:
            return None
        for part in self.name.split("."):
            value = getattr(value, part, None)
            if value is None:
                return None
        return value


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


@functools.cache
def _module_tree(module: str) -> ast.Module | None:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return None
    return ast.parse(Path(spec.origin).read_text(encoding="utf-8"))


def _statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Module-level statements, including those under ``if``/``try``/``with``."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, ast.If):
            yield from _statements(stmt.body)
            yield from _statements(stmt.orelse)
        elif isinstance(stmt, ast.Try):
            yield from _statements(stmt.body)
            for handler in stmt.handlers:
                yield from _statements(handler.body)
            yield from _statements(stmt.orelse)
            yield from _statements(stmt.finalbody)
        elif isinstance(stmt, ast.With):
            yield from _statements(stmt.body)


@functools.cache
def _bindings(module: str) -> dict[str, tuple[str, ...]]:
    """How each top-level name of ``module`` is bound, read from its source.

    Values: ``("def",)``, ``("module", name)`` or ``("from", module, name)``.
    """
    tree = _module_tree(module)
    found: dict[str, tuple[str, ...]] = {}
    if tree is None:
        return found
    package = module if _is_package(module) else module.rpartition(".")[0]
    for stmt in _statements(tree.body):
        if isinstance(stmt, ast.ImportFrom):
            source = stmt.module or ""
            if stmt.level:
                base = package.split(".")
                base = base[: len(base) - (stmt.level - 1)]
                source = ".".join([*base, source] if source else base)
            for alias in stmt.names:
                found.setdefault(alias.asname or alias.name, ("from", source, alias.name))
        elif isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if alias.asname:
                    found.setdefault(alias.asname, ("module", alias.name))
                else:
                    top = alias.name.partition(".")[0]
                    found.setdefault(top, ("module", top))
        elif isinstance(stmt, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            found[stmt.name] = ("def",)
        elif isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                if isinstance(target, ast.Name):
                    found[target.id] = ("def",)
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            found[stmt.target.id] = ("def",)
        elif type(stmt).__name__ == "TypeAlias":  # ``type X = ...`` (Python 3.12+)
            found[stmt.name.id] = ("def",)  # type: ignore[attr-defined]
    return found


def _is_package(module: str) -> bool:
    spec = importlib.util.find_spec(module)
    return bool(spec and spec.submodule_search_locations is not None)


def _deep(module: str) -> bool:
    return module.partition(".")[0] in DEEP_PACKAGES


def resolve_name(module: str, name: str) -> Ref:  # noqa: PLR0911 - one return per kind of binding
    """Find where ``name``, as ``module`` sees it, is defined.

    :raises StubError: if the name cannot be found.
    """
    binding = _bindings(module).get(name)
    if binding is None:
        if _module_tree(module) is None and hasattr(importlib.import_module(module), name):
            # A module without Python source (a C module, a stub-only one): take it as defined there.
            return Ref(module, name)
        if _is_module(f"{module}.{name}"):
            return Ref(f"{module}.{name}", "", is_module=True)
        if hasattr(builtins, name):
            return Ref("builtins", name)
        if _is_module(name):  # A fully qualified name (``bson.typings._DocumentType``).
            return Ref(name, "", is_module=True)
        raise StubError(f"cannot resolve {name!r} in {module}")
    if binding[0] == "def":
        return Ref(module, name)
    if binding[0] == "module":
        return Ref(binding[1], "", is_module=True)
    _, source, original = binding
    if _is_module(f"{source}.{original}") and original not in _bindings(source):
        # ``from pymongo.synchronous import client_session``: a submodule.
        return Ref(f"{source}.{original}", "", is_module=True)
    if _deep(source):
        return resolve_name(source, original)
    return Ref(source, original)


def resolve_dotted(module: str, dotted: str) -> Ref:
    """Resolve ``a.b.c`` as written in an annotation of ``module``."""
    first, *rest = dotted.split(".")
    ref = resolve_name(module, first)
    for i, part in enumerate(rest):
        if not ref.is_module:
            # An attribute of a class (a nested class): keep the path.
            return Ref(ref.module, ".".join([ref.name, *rest[i:]]))
        if _deep(ref.module):
            ref = resolve_name(ref.module, part)
        elif _is_module(f"{ref.module}.{part}"):
            ref = Ref(f"{ref.module}.{part}", "", is_module=True)
        else:
            ref = Ref(ref.module, part, via_module=True)
    return ref


# ---------------------------------------------------------------------------------------------
# A stub being written: its imports and the classes it defines
# ---------------------------------------------------------------------------------------------


_STDLIB = frozenset(sys.stdlib_module_names) | {"builtins", "__future__"}


class Imports:
    """The imports of one stub: ``use(module, name)`` returns how to write the name there."""

    def __init__(self, module: str, local_names: Iterable[str]) -> None:
        self.module = module
        self.local = set(local_names)
        self.from_imports: dict[str, set[tuple[str, str]]] = {}  # module -> {(name, asname)}
        self.module_imports: set[str] = set()
        self.taken: dict[str, tuple[str, str]] = {}  # local name -> (module, name)

    def use(self, module: str, name: str, *, as_module: bool = False) -> str:
        if module == "builtins":
            return name
        if module == self.module:
            return name
        if as_module:
            self.module_imports.add(module)
            return f"{module}.{name}"
        top = name.partition(".")[0]
        owner = self.taken.get(top)
        if top in self.local or (owner is not None and owner != (module, top)):
            # The name is taken by another object: write it with its module's path.
            self.module_imports.add(module)
            return f"{module}.{name}"
        self.taken[top] = (module, top)
        self.from_imports.setdefault(module, set()).add((top, top))
        return name

    def reexport(self, module: str, name: str) -> None:
        self.from_imports.setdefault(module, set()).add((name, name + " as " + name))

    def lines(self, body: str) -> list[str]:
        """The import lines, for the names ``body`` uses (a name rendered and then dropped, such
        as a PyMongo annotation Motor's own replaced, is not imported)."""
        words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_.]*", body))
        used_words = {w.partition(".")[0] for w in words}
        sections: dict[int, list[str]] = {0: [], 1: [], 2: []}

        def section(module: str) -> int:
            top = module.partition(".")[0]
            if top in _STDLIB:
                return 0
            return 2 if top == "motor" else 1

        for module in sorted(self.module_imports, key=_module_sort_key):
            if any(w.startswith(module + ".") for w in words):
                sections[section(module)].append(f"import {module}")
        for module in sorted(self.from_imports, key=_module_sort_key):
            names = sorted(
                (n for n in self.from_imports[module] if n[0] in used_words or n[1] != n[0]),
                key=lambda n: _member_sort_key(n[0]),
            )
            if not names:
                continue
            # As ruff's isort writes them: the plain names in one statement, then each
            # ``name as name`` re-export in a statement of its own.
            plain = [name for name, asname in names if asname == name]
            if plain:
                line = f"from {module} import {', '.join(plain)}"
                if len(line) > LINE_LENGTH:
                    line = f"from {module} import (\n" + "".join(f"{INDENT}{n},\n" for n in plain) + ")"
                sections[section(module)].append(line)
            sections[section(module)].extend(
                f"from {module} import {asname}" for name, asname in names if asname != name
            )
        blocks = ["\n".join(lines) for _, lines in sorted(sections.items()) if lines]
        return "\n\n".join(blocks).splitlines()


def _module_sort_key(module: str) -> tuple[str, str]:
    return (module.lower(), module)


def _member_sort_key(name: str) -> tuple[int, str, str]:
    # Ruff's isort with order-by-type: CONSTANTS, then Classes, then everything else.
    if name.isupper() and len(name) > 1:
        group = 0
    elif name[:1].isupper():
        group = 1
    else:
        group = 2
    return (group, name.lower(), name)


@dataclass
class Framework:
    """What a framework stub needs to know of its framework."""

    module: Any  # the module of generated classes, e.g. motor.motor_asyncio
    framework: Any  # the framework module, e.g. motor.frameworks.asyncio
    classes: dict[type, str]  # agnostic class -> generated class's name in ``module``
    future: str = "asyncio.Future"  # the type its awaitables return, from the registry


@dataclass
class Context:
    """How to write annotations inside one class (or module) of one stub."""

    stub: Stub
    framework: Framework | None = None
    generic: bool = False  # whether the enclosing class is generic in _DocumentType
    owner: type | None = None  # the agnostic class being written, if any
    document: str = "Any"  # what DOCUMENT stands for in DOCUMENT_RETURNS


@dataclass
class Stub:
    """One ``.pyi`` file being generated."""

    module: str
    framework: Framework | None = None
    imports: Imports = field(init=False)
    blocks: list[str] = field(default_factory=list)
    #: Private classes of this stub's module that annotations referred to: they get stubs too.
    wanted: dict[str, type] = field(default_factory=dict)
    written: set[str] = field(default_factory=set)
    #: Names that could not be resolved and were written as ``Any``.
    degraded: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        module = importlib.import_module(self.module)
        defined = {
            name
            for name, value in vars(module).items()
            if getattr(value, "__module__", None) == self.module and not name.startswith("__")
        }
        self.imports = Imports(self.module, defined | set(getattr(module, "__all__", ())))


# ---------------------------------------------------------------------------------------------
# Agnostic classes: generics and the class each framework generates from them
# ---------------------------------------------------------------------------------------------


def is_agnostic(obj: object) -> bool:
    """Whether ``obj`` is a framework-agnostic class that frameworks generate classes from."""
    return (
        isinstance(obj, type)
        and issubclass(obj, AgnosticBase)
        and "_framework" not in vars(obj)
        and any("__motor_class_name__" in vars(k) for k in obj.__mro__)
    )


def is_agnostic_like(obj: object) -> bool:
    """An agnostic class, or a public agnostic base (``AgnosticBaseCursor``) with no generated class."""
    return (
        isinstance(obj, type)
        and issubclass(obj, AgnosticBase)
        and obj is not AgnosticBase
        and "_framework" not in vars(obj)
        and not obj.__name__.startswith("_")
    )


def delegate_class(cls: type) -> type | None:
    for klass in cls.__mro__:
        delegate = vars(klass).get("__delegate_class__")
        if isinstance(delegate, type):
            return delegate
    return None


@functools.cache
def is_generic(cls: type) -> bool:
    """Whether the stub of agnostic class ``cls`` is generic in ``_DocumentType``.

    It is when the PyMongo class it wraps is; a base class that wraps none (``AgnosticBaseCursor``)
    is when a document-typed refinement applies to it.
    """
    delegate = delegate_class(cls)
    if delegate is not None:
        return bool(getattr(delegate, "__parameters__", ()))
    names = {k.__name__ for k in cls.__mro__}
    return any(owner in names for owner, _ in DOCUMENT_RETURNS)


def document_type(cls: type, ctx: Context) -> str:
    """What ``DOCUMENT`` stands for in the stub of ``cls`` (see :data:`DOCUMENT_RETURNS`)."""
    delegate = delegate_class(cls)
    next_method = getattr(delegate, "next", None) if delegate is not None else None
    text = _return_text(next_method) if next_method is not None else None
    if text is None:
        text = ".".join(DOCUMENT_TYPE) if is_generic(cls) else "typing.Any"
        return render(Annotation(text, "typing"), ctx)
    return render(Annotation(text, _home(next_method), map_pymongo=True), ctx)


def stub_base(cls: type) -> type | None:
    """The nearest public agnostic base of ``cls`` (private bases are flattened into it)."""
    for klass in cls.__mro__[1:]:
        if klass is AgnosticBase:
            return None
        if is_agnostic_like(klass):
            return klass
    return None


# ---------------------------------------------------------------------------------------------
# Writing annotations
# ---------------------------------------------------------------------------------------------


@dataclass
class Annotation:
    """An annotation to write: its text and the module whose names it uses."""

    text: str
    module: str
    #: Replace PyMongo classes that Motor wraps by Motor's classes.
    map_pymongo: bool = True
    #: Whether it annotates a parameter (mapped generic classes get ``[Any]`` if bare).
    in_param: bool = False
    #: The class that defines a hand-written method: a return of it is written ``Self``.
    self_class: type | None = None
    #: A refinement from :data:`DOCUMENT_RETURNS`: ``DOCUMENT`` is the cursor's document type.
    refinement: bool = False


_TYPING_MODULES = ("typing", "typing_extensions")


def render(annotation: Annotation | str | None, ctx: Context) -> str:
    """Write ``annotation`` for the stub of ``ctx``; an unknown name degrades to ``Any``."""
    if annotation is None:
        return ctx.stub.imports.use("typing", "Any")
    if isinstance(annotation, str):
        annotation = Annotation(annotation, "motor.core", map_pymongo=False)
    text = annotation.text.strip()
    try:
        node = ast.parse(text, mode="eval").body
    except SyntaxError as exc:
        raise StubError(f"cannot parse annotation {text!r}") from exc
    if annotation.self_class is not None and isinstance(node, ast.Name | ast.Attribute):
        ref = _try_resolve(annotation.module, _dotted(node))
        if ref is not None and ref.obj is annotation.self_class:
            return ctx.stub.imports.use("typing", "Self")
    return ast.unparse(_Renderer(annotation, ctx).visit(node))


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    raise StubError(f"not a name: {ast.unparse(node)}")


def _try_resolve(module: str, dotted: str) -> Ref | None:
    try:
        return resolve_dotted(module, dotted)
    except StubError:
        return None


class _Renderer:
    def __init__(self, annotation: Annotation, ctx: Context) -> None:
        self.annotation = annotation
        self.ctx = ctx

    def visit(self, node: ast.expr) -> ast.expr:
        if isinstance(node, ast.Constant):
            if isinstance(node.value, str):  # A forward reference.
                return self.visit(ast.parse(node.value, mode="eval").body)
            return node
        if isinstance(node, ast.Name | ast.Attribute):
            return self.name(node, None)
        if isinstance(node, ast.Subscript):
            return self.name(node.value, node.slice)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            return ast.BinOp(self.visit(node.left), ast.BitOr(), self.visit(node.right))
        if isinstance(node, ast.Tuple | ast.List):
            return type(node)(elts=[self.visit(e) for e in node.elts], ctx=ast.Load())
        raise StubError(f"unsupported annotation {ast.unparse(node)!r}")

    def degrade(self, what: str) -> ast.expr:
        self.ctx.stub.degraded.append(f"{self.annotation.module}: {what}")
        return ast.Name(self.ctx.stub.imports.use("typing", "Any"))

    def name(self, node: ast.expr, args: ast.expr | None) -> ast.expr:  # noqa: PLR0911
        dotted = _dotted(node)
        if dotted == "DOCUMENT" and self.annotation.refinement:
            return ast.Name(self.ctx.document)
        ref = _try_resolve(self.annotation.module, dotted)
        if ref is None:
            return self.degrade(dotted)
        imports = self.ctx.stub.imports
        if (ref.module, ref.name) == DOCUMENT_TYPE and self.ctx.owner is not None and not self.ctx.generic:
            # A PyMongo method a non-generic class inherits (``GridOutCursor`` is a ``Cursor[Any]``).
            return ast.Name(imports.use("typing", "Any"))
        if ref.module in _TYPING_MODULES and ref.name == "Optional" and args is not None:
            return ast.BinOp(self.visit(args), ast.BitOr(), ast.Constant(None))
        if ref.module in _TYPING_MODULES and ref.name == "Union" and args is not None:
            elts = args.elts if isinstance(args, ast.Tuple) else [args]
            result = self.visit(elts[0])
            for elt in elts[1:]:
                result = ast.BinOp(result, ast.BitOr(), self.visit(elt))
            return result
        if (ref.module, ref.name) == ENGINE_FUTURE or (
            (ref.module, ref.name) == ("asyncio", "Future") and self.ctx.framework is not None
        ):
            # The engine's Future protocol, in hand-written methods, and the refinements written
            # as asyncio Futures: the framework's own Future.
            name = future(self.ctx, "").removesuffix("[]")
            return ast.Name(name) if args is None else ast.Subscript(ast.Name(name), self.visit(args))
        obj = ref.obj
        target = self.motor_class(obj)
        if target is not None:
            name = self.class_name(target)
            if args is None and is_generic(target):
                default = "_DocumentType" if self.ctx.generic and not self.annotation.in_param else "Any"
                args = ast.Name(default)
                if default == "Any":
                    imports.use("typing", "Any")
                else:
                    imports.use(*DOCUMENT_TYPE)
                return ast.Subscript(ast.Name(name), args)
        elif ref.is_module:
            return self.degrade(f"{dotted} (a module)")
        else:
            if ref.module == self.ctx.stub.module and ref.name.startswith("_") and isinstance(obj, type):
                self.ctx.stub.wanted.setdefault(ref.name, obj)
            if ref.module in _STDLIB and ref.via_module:
                name = imports.use(ref.module, ref.name, as_module=True)
            else:
                name = imports.use(ref.module, ref.name)
        if args is None:
            return ast.Name(name)
        return ast.Subscript(ast.Name(name), self.visit(args))

    def motor_class(self, obj: object) -> type | None:
        """The agnostic class to write in place of ``obj``, if any."""
        if not isinstance(obj, type):
            return None
        if is_agnostic_like(obj):
            return obj
        if self.annotation.map_pymongo and obj.__module__.partition(".")[0] in ("pymongo", "gridfs"):
            return agnostic_class_for(obj)
        return None

    def class_name(self, agnostic: type) -> str:
        """How this stub writes the class of ``agnostic`` (the framework's, if it has one)."""
        framework = self.ctx.framework
        if framework is not None:
            name = framework.classes.get(agnostic)
            if name is not None:
                return self.ctx.stub.imports.use(framework.module.__name__, name)
        return self.ctx.stub.imports.use(agnostic.__module__, agnostic.__name__)


# ---------------------------------------------------------------------------------------------
# Writing signatures
# ---------------------------------------------------------------------------------------------


def _annotation_text(value: Any) -> str | None:
    if value is inspect.Parameter.empty:
        return None
    if isinstance(value, str):
        return value
    if value is None:
        return "None"
    if isinstance(value, type):
        if value.__module__ == "builtins":
            return value.__name__
        return f"{value.__module__}.{value.__qualname__}"
    return repr(value).replace("typing.", "")


def _home(fn: Any) -> str:
    """The module whose names ``fn``'s annotations use."""
    fn = inspect.unwrap(fn)
    module = getattr(fn, "__module__", None)
    return module if isinstance(module, str) and module in sys.modules else "builtins"


def render_default(value: Any) -> str:
    """A default as a stub writes it: the literal if it is a simple one, else ``...``."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int | float) and not isinstance(value, enum.Enum):
        return repr(value)
    if isinstance(value, str) and len(value) <= 40 and value.isprintable() and not set(value) & {'"', "\\"}:
        return f'"{value}"'
    if isinstance(value, bytes) and len(value) <= 40 and value.isascii() and value.decode().isprintable():
        text = value.decode()
        if not set(text) & {'"', "\\"}:
            return f'b"{text}"'
    if isinstance(value, str | bytes):
        return "..."
    return "..."


@dataclass
class Param:
    """One parameter as written in a stub."""

    name: str
    kind: inspect._ParameterKind
    annotation: str | None
    default: str | None


def render_params(
    signature: inspect.Signature,
    ctx: Context,
    module: str,
    *,
    map_pymongo: bool,
    skip_first: bool = True,
) -> list[Param]:
    params = list(signature.parameters.values())
    if skip_first and params and params[0].kind in (_P.POSITIONAL_ONLY, _P.POSITIONAL_OR_KEYWORD):
        params = params[1:]
    result = []
    for p in params:
        if p.name.startswith("_") and p.default is not p.empty and p.kind is not _P.VAR_KEYWORD:
            continue  # A private parameter (``_delegate``): not part of the interface.
        text = _annotation_text(p.annotation)
        annotation = render(Annotation(text, module, map_pymongo, in_param=True) if text else None, ctx)
        default = None if p.default is p.empty else render_default(p.default)
        result.append(Param(p.name, p.kind, annotation, default))
    return result


def format_def(
    name: str,
    params: list[Param],
    returns: str,
    indent: str,
    *,
    decorators: Iterable[str] = (),
    is_async: bool = False,
    self_name: str | None = "self",
) -> str:
    """A ``def`` line (or lines, one parameter each, if it is too long) with body ``...``."""
    parts = [self_name] if self_name else []
    positional_only = any(p.kind is _P.POSITIONAL_ONLY for p in params)
    star_done = False
    for i, p in enumerate(params):
        if p.kind is _P.VAR_POSITIONAL:
            star_done = True
            parts.append(f"*{p.name}: {p.annotation}")
            continue
        if p.kind is _P.KEYWORD_ONLY and not star_done:
            parts.append("*")
            star_done = True
        if p.kind is _P.VAR_KEYWORD:
            parts.append(f"**{p.name}: {p.annotation}")
            continue
        text = f"{p.name}: {p.annotation}"
        if p.default is not None:
            text += f" = {p.default}"
        parts.append(text)
        if (
            positional_only
            and p.kind is _P.POSITIONAL_ONLY
            and (i + 1 == len(params) or params[i + 1].kind is not _P.POSITIONAL_ONLY)
        ):
            parts.append("/")
    keyword = "async def" if is_async else "def"
    lines = [f"{indent}@{d}" for d in decorators]
    one_line = f"{indent}{keyword} {name}({', '.join(parts)}) -> {returns}: ..."
    if len(one_line) <= LINE_LENGTH:
        lines.append(one_line)
    else:
        lines.append(f"{indent}{keyword} {name}(")
        lines.extend(f"{indent}{INDENT}{part}," for part in parts)
        lines.append(f"{indent}) -> {returns}: ...")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Declared attributes
# ---------------------------------------------------------------------------------------------


def _return_text(fn: Any) -> str | None:
    try:
        return _annotation_text(inspect.signature(fn).return_annotation)
    except (TypeError, ValueError):
        return None


def _signatures(fn: Any) -> list[Any]:
    """``fn``'s overloads if it has any, else ``fn`` itself."""
    try:
        overloads = typing.get_overloads(inspect.unwrap(fn))
    except Exception:
        overloads = []
    return list(overloads) or [fn]


def _fallback_signature() -> inspect.Signature:
    p = inspect.Parameter
    return inspect.Signature(
        [
            p("self", _P.POSITIONAL_OR_KEYWORD),
            p("args", _P.VAR_POSITIONAL, annotation="Any"),
            p("kwargs", _P.VAR_KEYWORD, annotation="Any"),
        ]
    )


def _signature(fn: Any) -> inspect.Signature:
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):
        return _fallback_signature()


def _class_attribute_type(delegate: type, name: str) -> str:
    """The annotation of a plain class attribute of a PyMongo class (``MongoClient.HOST``)."""
    for klass in delegate.__mro__:
        annotations = vars(klass).get("__annotations__", {})
        if name in annotations:
            return _annotation_text(annotations[name]) or "Any"
    value = inspect.getattr_static(delegate, name)
    if type(value).__module__ == "builtins" and type(value).__name__ in vars(builtins):
        return type(value).__name__
    return "Any"


#: The Future protocol of :mod:`motor.frameworks.interface` that hand-written methods return.
ENGINE_FUTURE = ("motor.frameworks.interface", "Future")


def future(ctx: Context, inner: str) -> str:
    """The Future type Motor's awaitables return: the registry's for a framework's stub (a Tornado
    Future is an asyncio Future), ``asyncio.Future`` for the agnostic classes."""
    dotted = ctx.framework.future if ctx.framework is not None else "asyncio.Future"
    module, _, name = dotted.rpartition(".")
    written = ctx.stub.imports.use(module, name, as_module=module == "asyncio")
    return f"{written}[{inner}]"


def declared_member(name: str, decl: MotorAttributeFactory, owner: type, ctx: Context) -> str:
    """The stub of one declared attribute of agnostic class ``owner``."""
    original = decl.delegate_attribute(owner)
    kind = decl.kind
    wrap = decl.wrap is not None

    if kind is AttributeKind.PROPERTY:
        if isinstance(original, property):
            text = _return_text(original.fget)
            home = _home(original.fget)
        else:
            delegate = delegate_class(owner)
            assert delegate is not None
            text = _class_attribute_type(delegate, decl.pymongo_name or name)
            home = delegate.__module__
        returns = render(Annotation(text, home, map_pymongo=wrap) if text else None, ctx)
        return format_def(name, [], returns, INDENT, decorators=["property"])

    if isinstance(original, property):
        # AsyncProperty: an awaitable read of a PyMongo property.
        text = _return_text(original.fget)
        returns = render(Annotation(text, _home(original.fget), map_pymongo=False) if text else None, ctx)
        return format_def(name, [], future(ctx, returns), INDENT)

    variants = _signatures(original)
    overloaded = len(variants) > 1
    lines = []
    for variant in variants:
        signature = _signature(variant)
        home = _home(variant)
        params = render_params(signature, ctx, home, map_pymongo=True)
        text = _annotation_text(signature.return_annotation)
        if kind is AttributeKind.CHAINING:
            returns = ctx.stub.imports.use("typing", "Self")
        elif kind is AttributeKind.CURSOR and getattr(decl, "cursor_class", None) is not None:
            returns = _deferred_cursor_return(decl, text, home, ctx)
        else:
            maps = wrap or kind is AttributeKind.CURSOR
            returns = render(Annotation(text, home, map_pymongo=maps) if text else None, ctx)
            if kind is AttributeKind.AWAITABLE:
                returns = future(ctx, returns)
        decorators = [ctx.stub.imports.use("typing", "overload")] if overloaded else []
        lines.append(format_def(name, params, returns, INDENT, decorators=decorators))
    return "\n".join(lines)


def _deferred_cursor_return(decl: MotorAttributeFactory, text: str | None, home: str, ctx: Context) -> str:
    """``aggregate``, ``watch``: Motor's cursor class, with PyMongo's cursor's type arguments."""
    cursor_class: type = decl.cursor_class  # type: ignore[attr-defined]
    args = "Any"
    if text:
        node = ast.parse(text, mode="eval").body
        if isinstance(node, ast.Subscript):
            args = ast.unparse(node.slice)
    arg_text = render(Annotation(args, home, map_pymongo=True), ctx)
    if args == "Any":
        ctx.stub.imports.use("typing", "Any")
    name = _Renderer(Annotation("", home), ctx).class_name(cursor_class)
    return f"{name}[{arg_text}]" if is_generic(cursor_class) else name


# ---------------------------------------------------------------------------------------------
# Hand-written attributes
# ---------------------------------------------------------------------------------------------


def _function_of(value: Any) -> Any:
    if isinstance(value, classmethod | staticmethod):
        return value.__func__
    return value


def hand_written_member(
    name: str,
    value: Any,
    defining: type,
    ctx: Context,
    *,
    agnostic: bool,
) -> str | None:
    """The stub of a method or property written by hand in class ``defining``."""
    decorators: list[str] = []
    if isinstance(value, property):
        if value.fget is None:
            return None
        fn = value.fget
        decorators.append("property")
    elif isinstance(value, classmethod):
        fn = value.__func__
        decorators.append("classmethod")
    elif isinstance(value, staticmethod):
        fn = value.__func__
        decorators.append("staticmethod")
    elif inspect.isfunction(value):
        fn = value
    else:
        return None
    signature = _signature(fn)
    home = _home(fn)
    self_class = defining if (agnostic or is_agnostic_like(defining)) else None
    params = render_params(
        signature, ctx, home, map_pymongo=False, skip_first=not isinstance(value, staticmethod)
    )
    if name == "__init__" and agnostic:
        params = _merged_constructor(defining, signature, params, ctx)

    override = DOCUMENT_RETURNS.get((defining.__name__, name)) if agnostic else None
    if override is not None:
        returns = render(Annotation(override, defining.__module__, map_pymongo=False, refinement=True), ctx)
    elif agnostic and name in EVENT_LOOP_ATTRIBUTES and ctx.framework is not None:
        loop = ctx.framework.framework.get_event_loop
        text = _return_text(loop)
        returns = render(Annotation(text, _home(loop), map_pymongo=False) if text else None, ctx)
    else:
        text = _annotation_text(signature.return_annotation)
        if text is None and name == "__init__":
            text = "None"
        returns = render(
            Annotation(text, home, map_pymongo=False, self_class=self_class) if text else None, ctx
        )
    lines = [
        format_def(
            name,
            params,
            returns,
            INDENT,
            decorators=decorators,
            is_async=inspect.iscoroutinefunction(fn),
            self_name=_self_name(value),
        )
    ]
    if isinstance(value, property) and value.fset is not None:
        setter = _signature(value.fset)
        setter_params = render_params(setter, ctx, _home(value.fset), map_pymongo=False)
        lines.append(format_def(name, setter_params, "None", INDENT, decorators=[f"{name}.setter"]))
    return "\n".join(lines)


def _self_name(value: Any) -> str | None:
    if isinstance(value, classmethod):
        return "cls"
    return None if isinstance(value, staticmethod) else "self"


def vars_init(cls: type) -> Any:
    """The ``__init__`` a class uses (from itself or its nearest base that defines one)."""
    return inspect.getattr_static(cls, "__init__")


def _merged_constructor(
    cls: type, signature: inspect.Signature, params: list[Param], ctx: Context
) -> list[Param]:
    """An agnostic constructor's parameters, with those it passes on to PyMongo spelled out.

    A parameter PyMongo's constructor also has is typed as PyMongo types it (Motor's classes in
    place of PyMongo's); ``*args`` / ``**kwargs`` that go to PyMongo's constructor become its
    remaining parameters.
    """
    delegate = delegate_class(cls)
    if delegate is None:
        return params
    pymongo_init = vars_init(delegate)
    pymongo_sig = _signature(pymongo_init)
    home = _home(pymongo_init)
    theirs = {p.name: p for p in render_params(pymongo_sig, ctx, home, map_pymongo=True)}
    runtime = signature.parameters
    has_args = any(p.kind is _P.VAR_POSITIONAL for p in runtime.values())
    has_kwargs = any(p.kind is _P.VAR_KEYWORD for p in runtime.values())

    mine = []
    for param in params:
        p = param
        runtime_text = _annotation_text(signature.parameters[p.name].annotation)
        pymongo_param = pymongo_sig.parameters.get(p.name)
        if (
            p.name in theirs
            and pymongo_param is not None
            and p.kind not in (_P.VAR_POSITIONAL, _P.VAR_KEYWORD)
            and _restates_pymongo(
                runtime_text, _home(vars_init(cls)), _annotation_text(pymongo_param.annotation), home
            )
        ):
            p = Param(p.name, p.kind, theirs[p.name].annotation, p.default)
        mine.append(p)
    if not (has_args or has_kwargs):
        return mine

    named = {p.name for p in mine}
    positional = [p for p in mine if p.kind in (_P.POSITIONAL_ONLY, _P.POSITIONAL_OR_KEYWORD)]
    keyword = [p for p in mine if p.kind is _P.KEYWORD_ONLY]
    their_list = list(theirs.values())
    result = list(positional)
    used = set(named)
    if has_args:
        for p in their_list[len(positional) :]:
            if p.kind in (_P.POSITIONAL_ONLY, _P.POSITIONAL_OR_KEYWORD) and p.name not in used:
                result.append(p)
                used.add(p.name)
            elif p.kind is _P.VAR_POSITIONAL:
                result.append(p)
    result.extend(keyword)
    if has_kwargs:
        for p in their_list:
            if p.name in used or p.kind in (_P.VAR_POSITIONAL, _P.VAR_KEYWORD):
                continue
            if p.kind is _P.KEYWORD_ONLY:
                result.append(p)
            elif not has_args:  # Only reachable by keyword through Motor's **kwargs.
                result.append(Param(p.name, _P.KEYWORD_ONLY, p.annotation, p.default))
            else:
                continue
            used.add(p.name)
        var_keyword = [p for p in their_list if p.kind is _P.VAR_KEYWORD]
        result.extend(var_keyword)
    # Keep Python's parameter order: positional, *args, keyword-only, **kwargs.
    order = {
        inspect.Parameter.POSITIONAL_ONLY: 0,
        inspect.Parameter.POSITIONAL_OR_KEYWORD: 0,
        inspect.Parameter.VAR_POSITIONAL: 1,
        inspect.Parameter.KEYWORD_ONLY: 2,
        inspect.Parameter.VAR_KEYWORD: 3,
    }
    return sorted(result, key=lambda p: order[p.kind])


def _restates_pymongo(text: str | None, module: str, pymongo_text: str | None, pymongo_module: str) -> bool:
    """Whether PyMongo's annotation of a constructor parameter says more than Motor's.

    It does when Motor's is ``Any``, or names the Motor class that wraps the PyMongo class PyMongo's
    names (``AgnosticDatabase`` for ``Database[_DocumentType]``): then PyMongo's says which
    document type.
    """
    if pymongo_text is None:
        return False
    if text is None or text in ("Any", "typing.Any"):
        return True
    try:
        ours = resolve_dotted(module, _dotted(ast.parse(text, mode="eval").body)).obj
        node = ast.parse(pymongo_text, mode="eval").body
        if isinstance(node, ast.Subscript):
            node = node.value
        theirs = resolve_dotted(pymongo_module, _dotted(node)).obj
    except (StubError, SyntaxError):
        return False
    return is_agnostic(ours) and isinstance(theirs, type) and agnostic_class_for(theirs) is ours


def instance_attributes(cls: type) -> dict[str, tuple[str | None, str, type]]:
    """Public attributes a class's ``__init__`` sets: name -> (annotation, its module, class)."""
    found: dict[str, tuple[str | None, str, type]] = {}
    base_annotated = {n for k in AgnosticBase.__mro__ for n in vars(k).get("__annotations__", {})}
    for klass in reversed(cls.__mro__):
        init = vars(klass).get("__init__")
        if not inspect.isfunction(init):
            continue
        try:
            source = inspect.getsource(init)
        except (OSError, TypeError):
            continue
        fn = ast.parse(textwrap.dedent(source)).body[0]
        if not isinstance(fn, ast.FunctionDef):
            continue
        params = {a.arg: a.annotation for a in [*fn.args.args, *fn.args.kwonlyargs]}
        for node in ast.walk(fn):
            target: ast.expr | None = None
            annotation: ast.expr | None = None
            if isinstance(node, ast.AnnAssign):
                target, annotation = node.target, node.annotation
            elif isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
                value = node.value
                if isinstance(value, ast.Name) and params.get(value.id) is not None:
                    annotation = params[value.id]
            if not (
                isinstance(target, ast.Attribute)
                and isinstance(target.value, ast.Name)
                and target.value.id == "self"
            ):
                continue
            name = target.attr
            if name.startswith("_") or name in base_annotated:
                continue
            text = ast.unparse(annotation) if annotation is not None else None
            if name not in found or text is not None:
                found[name] = (text, klass.__module__, klass)
    return found


# ---------------------------------------------------------------------------------------------
# Classes
# ---------------------------------------------------------------------------------------------


def members(cls: type) -> dict[str, tuple[str, Any, type]]:
    """The attributes a stub of agnostic class ``cls`` declares.

    name -> ("declared" | "hand", the declaration or the attribute, the class defining it). A name
    in a subclass hides a base's, as :func:`motor.metaprogramming.declarations` says.
    """
    found: dict[str, tuple[str, Any, type]] = {}
    seen: set[str] = set()
    decls = declarations(cls)
    for klass in cls.__mro__:
        if klass is object:
            continue
        for name, value in vars(klass).items():
            if name in seen:
                continue
            seen.add(name)
            if isinstance(value, MotorAttributeFactory):
                if decls.get(name) is value:
                    found[name] = ("declared", value, klass)
            elif (klass.__name__, name) in RUNTIME_ONLY:
                continue
            elif _is_public(name) and _is_member(value):
                found[name] = ("hand", value, klass)
            elif value is None and name in PROTOCOL_DUNDERS:
                found[name] = ("none", value, klass)  # ``__iter__ = None``: the protocol is refused.
    return found


def _is_public(name: str) -> bool:
    if name.startswith("__") and name.endswith("__"):
        return name in PROTOCOL_DUNDERS
    return not name.startswith("_")


def _is_member(value: object) -> bool:
    return isinstance(value, property | classmethod | staticmethod) or inspect.isfunction(value)


def _sort_key(name: str) -> tuple[int, str]:
    return (0 if name == "__init__" else 1, name)


def _check_refinements(cls: type) -> None:
    for owner, name in DOCUMENT_RETURNS:
        if owner == cls.__name__ and not inspect.isfunction(vars(cls).get(name)):
            raise StubError(f"DOCUMENT_RETURNS names {owner}.{name}, which is not a hand-written method")


def agnostic_class_stub(cls: type, ctx: Context, class_name: str, base: str) -> str:
    """A class whose members are ``cls``'s declarations and hand-written attributes."""
    lines = [f"class {class_name}({base}):"]
    for name, (text, module, _klass) in sorted(instance_attributes(cls).items()):
        annotation = render(
            Annotation(text, module, map_pymongo=False, self_class=None) if text else None, ctx
        )
        lines.append(f"{INDENT}{name}: {annotation}")
    for name, (how, value, klass) in sorted(members(cls).items(), key=lambda item: _sort_key(item[0])):
        if how == "declared":
            text = declared_member(name, value, cls, ctx)
        elif how == "none":
            text = f"{INDENT}{name}: {ctx.stub.imports.use('typing', 'ClassVar')}[None]"
        else:
            text = hand_written_member(name, value, klass, ctx, agnostic=True)
        if text:
            lines.append(text)
    if len(lines) == 1:
        lines.append(f"{INDENT}...")
    return "\n".join(lines)


def class_bases(cls: type, ctx: Context) -> str:
    """The bases of the agnostic stub class of ``cls``."""
    base = stub_base(cls)
    imports = ctx.stub.imports
    if base is None:
        bases = [imports.use("motor.metaprogramming", "AgnosticBase")]
        if is_generic(cls):
            bases.append(f"{imports.use('typing', 'Generic')}[{imports.use(*DOCUMENT_TYPE)}]")
        return ", ".join(bases)
    name = imports.use(base.__module__, base.__name__)
    if is_generic(base):
        arg = imports.use(*DOCUMENT_TYPE) if is_generic(cls) else imports.use("typing", "Any")
        return f"{name}[{arg}]"
    if is_generic(cls):
        return f"{name}, {imports.use('typing', 'Generic')}[{imports.use(*DOCUMENT_TYPE)}]"
    return name


def plain_class_stub(cls: type, ctx: Context) -> str:
    """A hand-written class that is not agnostic (``_TransactionContext``, ``GridOutProperty``)."""
    bases = []
    for base in getattr(cls, "__orig_bases__", cls.__bases__):
        if base is object:
            continue
        if isinstance(base, type):
            bases.append(render(Annotation(base.__qualname__, base.__module__, map_pymongo=False), ctx))
        else:
            bases.append(render(Annotation(_annotation_text(base) or "Any", cls.__module__), ctx))
    lines = [f"class {cls.__name__}({', '.join(bases)}):" if bases else f"class {cls.__name__}:"]
    annotations = vars(cls).get("__annotations__", {})
    for name, annotation in annotations.items():
        if _is_public(name):
            text = _annotation_text(annotation)
            rendered = render(Annotation(text, cls.__module__, map_pymongo=False) if text else None, ctx)
            lines.append(f"{INDENT}{name}: {rendered}")
    for name, value in sorted(vars(cls).items(), key=lambda item: _sort_key(item[0])):
        if _is_public(name) and _is_member(value):
            member = hand_written_member(name, value, cls, ctx, agnostic=False)
            if member:
                lines.append(member)
    if len(lines) == 1:
        lines.append(f"{INDENT}...")
    return "\n".join(lines)


def function_stub(name: str, fn: Any, ctx: Context) -> str:
    signature = _signature(fn)
    home = _home(fn)
    params = render_params(signature, ctx, home, map_pymongo=False, skip_first=False)
    text = _annotation_text(signature.return_annotation)
    returns = render(Annotation(text, home, map_pymongo=False) if text else None, ctx)
    return format_def(name, params, returns, "", is_async=inspect.iscoroutinefunction(fn), self_name=None)


def variable_stub(module: Any, name: str, value: Any, ctx: Context) -> str:
    annotations = getattr(module, "__annotations__", {})
    text = _annotation_text(annotations[name]) if name in annotations else None
    if text in ("Final", "typing.Final"):
        literal = render_default(value)
        return f"{name}: {ctx.stub.imports.use('typing', 'Final')} = {literal}"
    if text is None:
        kind = type(value)
        text = kind.__name__ if kind.__module__ == "builtins" else "Any"
    return f"{name}: {render(Annotation(text, module.__name__, map_pymongo=False), ctx)}"


# ---------------------------------------------------------------------------------------------
# Modules
# ---------------------------------------------------------------------------------------------


def _framework_of(module: Any) -> Framework | None:
    classes: dict[type, str] = {}
    framework = None
    for name in getattr(module, "__all__", ()):
        obj = getattr(module, name, None)
        if isinstance(obj, type) and "_framework" in vars(obj) and obj.__module__ == module.__name__:
            classes[obj.__bases__[0]] = name
            framework = vars(obj)["_framework"]
    if framework is None:
        return None
    entry = next(entry for entry in FRAMEWORKS if entry.classes_module == module.__name__)
    return Framework(module, framework, classes, entry.future)


def _blank_lines(blocks: list[str]) -> str:
    """Join top-level blocks as ruff formats a stub: a blank line around a class, none between
    two functions or two one-line statements, one otherwise."""
    out: list[str] = []
    for i, block in enumerate(blocks):
        if i:
            previous = blocks[i - 1]
            if block.startswith("class ") or previous.startswith("class "):
                out.append("\n\n")
            elif (_is_def(block) and _is_def(previous)) or ("\n" not in block and "\n" not in previous):
                out.append("\n")
            else:
                out.append("\n\n")
        out.append(block)
    return "".join(out)


def _is_def(block: str) -> bool:
    return block.lstrip("@").startswith(("def ", "async def ")) or block.startswith("@")


def module_stub(module_name: str) -> Stub:
    """The stub of one module, from its ``__all__``."""
    module = importlib.import_module(module_name)
    framework = _framework_of(module) if module_name in FRAMEWORK_MODULES else None
    stub = Stub(module_name, framework)
    ctx = Context(stub, framework)
    blocks: list[str] = []
    exported = list(getattr(module, "__all__", ()))
    if exported:
        blocks.append(_all_block(exported))
    # Public classes and functions defined here but not exported (``create_asyncio_class``).
    extra = sorted(
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and name not in exported
        and (inspect.isfunction(value) or isinstance(value, type))
        and value.__module__ == module_name
    )

    for name in [*exported, *extra]:
        obj = getattr(module, name)
        stub.written.add(name)
        if framework is not None and isinstance(obj, type) and obj.__bases__[0] in framework.classes:
            agnostic = obj.__bases__[0]
            _check_refinements_all(agnostic)
            class_ctx = Context(stub, framework, is_generic(agnostic), agnostic)
            class_ctx.document = document_type(agnostic, class_ctx)
            base = stub.imports.use(agnostic.__module__, agnostic.__name__)
            if is_generic(agnostic):
                base = f"{base}[{stub.imports.use(*DOCUMENT_TYPE)}]"
            blocks.append(agnostic_class_stub(agnostic, class_ctx, name, base))
        elif isinstance(obj, type) and obj.__module__ == module_name and is_agnostic_like(obj):
            _check_refinements_all(obj)
            class_ctx = Context(stub, None, is_generic(obj), obj)
            class_ctx.document = document_type(obj, class_ctx)
            blocks.append(agnostic_class_stub(obj, class_ctx, name, class_bases(obj, class_ctx)))
        elif isinstance(obj, type) and obj.__module__ == module_name:
            blocks.append(plain_class_stub(obj, ctx))
        elif inspect.isfunction(obj) and obj.__module__ == module_name:
            blocks.append(function_stub(name, obj, ctx))
        elif isinstance(obj, types.ModuleType):
            stub.imports.module_imports.add(obj.__name__)
        elif (
            hasattr(obj, "__module__")
            and getattr(obj, "__module__", module_name) != module_name
            and (isinstance(obj, type) or callable(obj))
        ):
            stub.imports.reexport(obj.__module__, name)
        else:
            blocks.append(variable_stub(module, name, obj, ctx))

    # Private classes the annotations refer to (``_TransactionContext``), until none is missing.
    while True:
        missing = [(n, c) for n, c in stub.wanted.items() if n not in stub.written]
        if not missing:
            break
        for name, cls in sorted(missing):
            stub.written.add(name)
            blocks.append(plain_class_stub(cls, ctx))

    if stub.degraded:
        raise StubError(f"{module_name}: cannot resolve {sorted(set(stub.degraded))}")
    prologue = [header()]
    if framework is not None:
        # A framework class narrows its agnostic class's parameters (a session of the framework
        # where the agnostic class takes any Motor session): not an error for these stubs.
        prologue.append('# mypy: disable-error-code="override"')
    body = _blank_lines(blocks) + "\n"
    import_lines = stub.imports.lines(body)
    text = "\n".join(prologue) + "\n\n"
    if import_lines:
        text += "\n".join(import_lines) + "\n\n"
    text += body
    stub.blocks = [text]
    return stub


def _check_refinements_all(cls: type) -> None:
    for klass in cls.__mro__:
        _check_refinements(klass)


def _all_block(names: list[str]) -> str:
    one_line = f"__all__ = [{', '.join(repr(n).replace(chr(39), chr(34)) for n in names)}]"
    if len(one_line) <= LINE_LENGTH:
        return one_line
    return "__all__ = [\n" + "".join(f'{INDENT}"{n}",\n' for n in names) + "]"


def stub_path(module_name: str) -> Path:
    spec = importlib.util.find_spec(module_name)
    assert spec is not None and spec.origin is not None
    return Path(spec.origin).with_suffix(".pyi")


def _existing_modules() -> list[str]:
    modules = []
    for name in (*AGNOSTIC_MODULES, *FRAMEWORK_MODULES, *OTHER_MODULES):
        try:
            found = importlib.util.find_spec(name) is not None
        except ImportError:
            found = False
        if found:
            modules.append(name)
    return modules


#: Modules :func:`generate` skipped because an optional dependency (Tornado, aiohttp) is missing.
skipped: dict[str, str] = {}


def generate() -> dict[Path, str]:
    """The stub text of every existing module, by the path it is written to.

    A module that needs an optional dependency that is not installed is skipped (and named in
    :data:`skipped`): its stub is neither written nor checked.
    """
    stubs = {}
    skipped.clear()
    for name in _existing_modules():
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is None or exc.name.partition(".")[0] == "motor":
                raise
            skipped[name] = exc.name
            continue
        stubs[stub_path(name)] = module_stub(name).blocks[0]
    return stubs


def _all_stub_paths() -> list[Path]:
    """Stubs this script may have written before, for modules that may have gone since."""
    motor_dir = ROOT / "motor"
    paths = []
    for name in (*AGNOSTIC_MODULES, *FRAMEWORK_MODULES, *OTHER_MODULES):
        relative = name.split(".")[1:]
        for candidate in (
            motor_dir.joinpath(*relative).with_suffix(".pyi"),
            motor_dir.joinpath(*relative, "__init__.pyi"),
        ):
            paths.append(candidate)
    return paths


def write() -> list[Path]:
    """Write every stub; return the paths that changed."""
    changed = []
    for path, text in generate().items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


def check() -> list[str]:
    """Return a unified diff per stub that differs from what :func:`generate` writes."""
    diffs = []
    expected = generate()
    skipped_paths = {stub_path(name) for name in skipped}
    for path in _all_stub_paths():
        if (
            path.exists()
            and path not in expected
            and path not in skipped_paths
            and path.read_text(encoding="utf-8").startswith("# Generated by tools/gen_stubs.py")
        ):
            diffs.append(f"{path.relative_to(ROOT)}: stale stub of a module that no longer exists\n")
    for path, text in expected.items():
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != text:
            relative = str(path.relative_to(ROOT))
            diffs.append(
                "".join(
                    difflib.unified_diff(
                        current.splitlines(keepends=True),
                        text.splitlines(keepends=True),
                        f"a/{relative}",
                        f"b/{relative}",
                    )
                )
                or f"{relative}: differs\n"
            )
    return diffs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 1, printing a diff, if a stub is out of date"
    )
    args = parser.parse_args(argv)
    try:
        if args.check:
            diffs = check()
            for name, dependency in skipped.items():
                sys.stderr.write(
                    f"gen_stubs: not checking the stub of {name}: {dependency} is not installed\n"
                )
            if diffs:
                sys.stdout.write("".join(diffs))
                sys.stderr.write(
                    "The stubs are out of date: run 'python tools/gen_stubs.py' and commit the result.\n"
                )
                return 1
            return 0
        for path in write():
            print(f"wrote {path.relative_to(ROOT)}")
        for name, dependency in skipped.items():
            sys.stderr.write(f"gen_stubs: not writing the stub of {name}: {dependency} is not installed\n")
    except StubError as exc:
        sys.stderr.write(f"gen_stubs: {exc}\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
