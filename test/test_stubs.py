"""The type stubs: up to date, faithful to the runtime classes, and useful to mypy.

- The committed ``.pyi`` files are what ``tools/gen_stubs.py`` generates now.
- Every public attribute of every generated class (both frameworks) is in its stub, with the
  runtime's parameter names, kinds and defaults; the stub declares nothing the class lacks.
- ``mypy --strict`` accepts ``test/typing/accept.py`` and rejects each ``test/typing/reject_*.py``
  with exactly the errors its ``# E: <code>`` comments expect.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from motor.metaprogramming import declarations

ROOT = Path(__file__).resolve().parents[1]
TYPING_DIR = Path(__file__).resolve().parent / "typing"


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_stubs", ROOT / "tools" / "gen_stubs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


gen_stubs = _load_generator()


# ---------------------------------------------------------------------------------------------
# The stubs are up to date
# ---------------------------------------------------------------------------------------------


def test_stubs_are_up_to_date() -> None:
    diffs = gen_stubs.check()
    assert not diffs, (
        "The stubs differ from what tools/gen_stubs.py generates; run 'python tools/gen_stubs.py' "
        "and commit the result:\n" + "".join(diffs)
    )


def test_check_reports_a_changed_stub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    generated = gen_stubs.generate()
    path = next(iter(generated))
    original = path.read_text(encoding="utf-8")
    monkeypatch.setattr(
        gen_stubs, "generate", lambda: {**generated, path: original + "def added() -> None: ...\n"}
    )
    diffs = gen_stubs.check()
    assert any("+def added() -> None: ..." in diff for diff in diffs)
    assert gen_stubs.main(["--check"]) == 1


# ---------------------------------------------------------------------------------------------
# The stubs match the runtime classes
# ---------------------------------------------------------------------------------------------


def _generated_classes() -> Iterator[tuple[str, type]]:
    for module_name in gen_stubs.FRAMEWORK_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            cls = getattr(module, name)
            if isinstance(cls, type) and "_framework" in vars(cls):
                yield module_name, cls


GENERATED = sorted(_generated_classes(), key=lambda item: item[1].__name__)


def _stub_tree(module_name: str) -> ast.Module:
    path: Path = gen_stubs.stub_path(module_name)
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _stub_class(module_name: str, name: str) -> ast.ClassDef:
    for node in _stub_tree(module_name).body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            return node
    raise AssertionError(f"{module_name} stub has no class {name}")


def _public_names(cls: type) -> set[str]:
    """Public attributes of a runtime class: declared, or hand-written and public."""
    names = set()
    agnostic = cls.__bases__[0]
    for name in dir(cls):
        if not any(name in vars(k) for k in cls.__mro__ if k is not object):
            continue
        if any((k.__name__, name) in gen_stubs.RUNTIME_ONLY for k in cls.__mro__ if name in vars(k)):
            continue
        if name in declarations(agnostic) or (
            name in gen_stubs.PROTOCOL_DUNDERS if name.startswith("__") else not name.startswith("_")
        ):
            names.add(name)
    return names


def _stub_members(node: ast.ClassDef) -> dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef]]:
    members: dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef]] = {}
    for item in node.body:
        if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
            members.setdefault(item.name, []).append(item)
    return members


def _decorators(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    return {ast.unparse(d) for d in fn.decorator_list}


_P = inspect.Parameter


def _stub_params(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[tuple[str, Any, ast.expr | None]]:
    """(name, kind, default) of a stub function's parameters, without ``self``/``cls``."""
    args = fn.args
    positional = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    params: list[tuple[str, Any, ast.expr | None]] = []
    for i, (arg, default) in enumerate(zip(positional, defaults, strict=True)):
        kind = _P.POSITIONAL_ONLY if i < len(args.posonlyargs) else _P.POSITIONAL_OR_KEYWORD
        params.append((arg.arg, kind, default))
    if args.vararg:
        params.append((args.vararg.arg, _P.VAR_POSITIONAL, None))
    for arg, kw_default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        params.append((arg.arg, _P.KEYWORD_ONLY, kw_default))
    if args.kwarg:
        params.append((args.kwarg.arg, _P.VAR_KEYWORD, None))
    if "staticmethod" not in _decorators(fn):
        params = params[1:]
    return params


def _runtime_params(attribute: Any) -> list[inspect.Parameter] | None:
    try:
        signature = inspect.signature(attribute)
    except (TypeError, ValueError):
        return None
    params = list(signature.parameters.values())
    if inspect.isfunction(attribute) and params:
        params = params[1:]  # self: the stub's is dropped too.
    # Private parameters with defaults (``_delegate``) are internal, and not in the stubs.
    return [p for p in params if not (p.name.startswith("_") and p.default is not p.empty)]


def _same_default(stub: ast.expr | None, runtime: inspect.Parameter, *, overload: bool = False) -> bool:
    if runtime.default is runtime.empty:
        return stub is None
    if stub is None:
        return False
    if isinstance(stub, ast.Constant) and stub.value is Ellipsis:
        # "..." stands for a default a stub cannot spell, or one an overload (PyMongo's) leaves open.
        return overload or gen_stubs.render_default(runtime.default) == "..."
    return bool(ast.literal_eval(stub) == runtime.default)


def _compare_overloads(
    where: str, overloads: list[list[tuple[str, Any, ast.expr | None]]], runtime: list[inspect.Parameter]
) -> list[str]:
    """Each overload has the runtime's parameters; a runtime default is some overload's default."""
    runtime_shape = [(p.name, p.kind) for p in runtime]
    problems = []
    for params in overloads:
        shape = [(name, kind) for name, kind, _ in params]
        if shape != runtime_shape:
            problems.append(f"{where}: overload parameters {shape}, {runtime_shape} at run time")
    if problems:
        return problems
    for i, p in enumerate(runtime):
        if p.kind in (_P.VAR_POSITIONAL, _P.VAR_KEYWORD):
            continue
        defaults = [params[i][2] for params in overloads]
        if p.default is p.empty and any(d is not None for d in defaults):
            problems.append(f"{where}: {p.name} has a default in an overload, none at run time")
        elif p.default is not p.empty and not any(_same_default(d, p, overload=True) for d in defaults):
            problems.append(f"{where}: no overload defaults {p.name} to {p.default!r}")
    return problems


def _compare(
    where: str,
    stub: list[tuple[str, Any, ast.expr | None]],
    runtime: list[inspect.Parameter],
    *,
    expands_var_args: bool,
) -> list[str]:
    problems = []
    stub_by_name = {name: (kind, default) for name, kind, default in stub}
    runtime_shape = [(p.name, p.kind) for p in runtime]
    stub_shape = [(name, kind) for name, kind, _ in stub]
    if runtime_shape != stub_shape:
        if not expands_var_args:
            return [f"{where}: parameters {stub_shape} in the stub, {runtime_shape} at run time"]
        # A constructor whose *args / **kwargs go to PyMongo's: the stub spells them out, and
        # keeps every named runtime parameter, in order, with its kind.
        named = [p for p in runtime if p.kind not in (_P.VAR_POSITIONAL, _P.VAR_KEYWORD)]
        order = [name for name, _, _ in stub]
        missing = [p.name for p in named if p.name not in stub_by_name]
        if missing:
            return [f"{where}: the stub lacks parameters {missing}"]
        indexes = [order.index(p.name) for p in named]
        if indexes != sorted(indexes):
            problems.append(f"{where}: the stub reorders parameters {[p.name for p in named]}")
        for p in named:
            if stub_by_name[p.name][0] is not p.kind:
                problems.append(f"{where}: {p.name} is {stub_by_name[p.name][0]} in the stub, {p.kind}")
        runtime = named
    for p in runtime:
        if p.kind in (_P.VAR_POSITIONAL, _P.VAR_KEYWORD):
            continue
        default = stub_by_name[p.name][1]
        if not _same_default(default, p):
            shown = "none" if default is None else ast.unparse(default)
            problems.append(f"{where}: {p.name} defaults to {shown} in the stub, {p.default!r} at run time")
    return problems


@pytest.mark.parametrize(("module_name", "cls"), GENERATED, ids=[cls.__name__ for _, cls in GENERATED])
def test_stub_declares_every_public_attribute(module_name: str, cls: type) -> None:
    node = _stub_class(module_name, cls.__name__)
    members = _stub_members(node)
    refused = {
        item.target.id
        for item in node.body
        if isinstance(item, ast.AnnAssign)
        and isinstance(item.target, ast.Name)
        and ast.unparse(item.annotation) == "ClassVar[None]"
    }
    problems = []
    for name in sorted(_public_names(cls)):
        where = f"{cls.__name__}.{name}"
        if name not in members and name not in refused:
            problems.append(f"{where}: missing from the stub")
            continue
        static = inspect.getattr_static(cls, name)
        if static is None:  # ``__iter__ = None``: the stub refuses the protocol too.
            if name not in refused:
                problems.append(f"{where}: None at run time, not ClassVar[None] in the stub")
            continue
        defs = members.get(name, [])
        if isinstance(static, property):
            if not any("property" in _decorators(d) for d in defs):
                problems.append(f"{where}: a property at run time, not in the stub")
            continue
        runtime = _runtime_params(getattr(cls, name))
        if runtime is None:
            continue  # No signature at run time (a builtin): nothing to compare.
        if len(defs) == 1:
            problems.extend(
                _compare(where, _stub_params(defs[0]), runtime, expands_var_args=name == "__init__")
            )
        else:
            problems.extend(_compare_overloads(where, [_stub_params(d) for d in defs], runtime))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(("module_name", "cls"), GENERATED, ids=[cls.__name__ for _, cls in GENERATED])
def test_stub_declares_nothing_the_class_lacks(module_name: str, cls: type) -> None:
    members = _stub_members(_stub_class(module_name, cls.__name__))
    extra = sorted(name for name in members if not hasattr(cls, name))
    assert not extra, f"{cls.__name__}'s stub declares {extra}, which the class does not have"


@pytest.mark.parametrize(("module_name", "cls"), GENERATED, ids=[cls.__name__ for _, cls in GENERATED])
def test_stub_class_subclasses_its_agnostic_class(module_name: str, cls: type) -> None:
    node = _stub_class(module_name, cls.__name__)
    agnostic = cls.__bases__[0]
    bases = [ast.unparse(b.value if isinstance(b, ast.Subscript) else b) for b in node.bases]
    assert bases == [agnostic.__name__]


def test_every_generated_class_has_a_stub() -> None:
    for module_name in gen_stubs.FRAMEWORK_MODULES:
        module = importlib.import_module(module_name)
        declared = {n.name for n in _stub_tree(module_name).body if isinstance(n, ast.ClassDef)}
        generated = {name for name in module.__all__ if "_framework" in vars(getattr(module, name))}
        assert generated <= declared


def test_document_refinements_name_hand_written_methods() -> None:
    core = importlib.import_module("motor.core")
    for owner, name in gen_stubs.DOCUMENT_RETURNS:
        assert inspect.isfunction(vars(getattr(core, owner)).get(name)), (owner, name)


# ---------------------------------------------------------------------------------------------
# mypy accepts typed user code and rejects mistakes
# ---------------------------------------------------------------------------------------------

_EXPECTED = re.compile(r"#\s*E:\s*([a-z-]+(?:\s*,\s*[a-z-]+)*)\s*$")
_REPORTED = re.compile(r"^(?P<path>[^:\n]+\.py):(?P<line>\d+): error: .*\[(?P<code>[a-z-]+)\]$")

TYPING_FILES = sorted(TYPING_DIR.glob("*.py"))


def _expected_errors(path: Path) -> set[tuple[int, str]]:
    expected: set[tuple[int, str]] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = _EXPECTED.search(line)
        if match:
            expected.update((number, code.strip()) for code in match.group(1).split(","))
    return expected


@pytest.fixture(scope="module")
def mypy_errors() -> dict[Path, set[tuple[int, str]]]:
    """Run mypy --strict once over every file of test/typing; return its errors by file."""
    api = pytest.importorskip("mypy.api")
    stdout, stderr, status = api.run(
        [
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--strict",
            "--cache-dir",
            str(ROOT / ".mypy_cache" / "test_stubs"),
            "--no-error-summary",
            "--show-error-codes",
            "--no-pretty",
            *(str(path) for path in TYPING_FILES),
        ]
    )
    assert status in (0, 1), f"mypy failed to run:\n{stdout}\n{stderr}"
    errors: dict[Path, set[tuple[int, str]]] = {}
    for line in stdout.splitlines():
        match = _REPORTED.match(line)
        if match:
            path = (ROOT / match["path"]).resolve()  # mypy reports paths as it was given them
            errors.setdefault(path, set()).add((int(match["line"]), match["code"]))
        elif ": error:" in line:
            raise AssertionError(f"unexpected mypy output: {line}")
    unexpected = {p for p in errors if p not in TYPING_FILES}
    assert not unexpected, f"mypy reported errors outside test/typing:\n{stdout}"
    return errors


def test_typed_user_code_imports() -> None:
    # The names accept.py uses exist at run time too (its functions need a server; they are not run).
    spec = importlib.util.spec_from_file_location("typing_accept", TYPING_DIR / "accept.py")
    assert spec is not None and spec.loader is not None
    spec.loader.exec_module(importlib.util.module_from_spec(spec))


@pytest.mark.timeout(60)
def test_mypy_accepts_typed_user_code(mypy_errors: dict[Path, set[tuple[int, str]]]) -> None:
    accept = TYPING_DIR / "accept.py"
    assert not _expected_errors(accept)
    assert mypy_errors.get(accept, set()) == set()


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "path", [p for p in TYPING_FILES if p.name.startswith("reject_")], ids=lambda p: p.stem
)
def test_mypy_rejects_mistakes(mypy_errors: dict[Path, set[tuple[int, str]]], path: Path) -> None:
    expected = _expected_errors(path)
    assert expected, f"{path.name} marks no line with '# E: <code>'"
    reported = mypy_errors.get(path, set())
    assert reported == expected, (
        f"{path.name}: mypy reported {sorted(reported - expected)} not marked, "
        f"and not {sorted(expected - reported)} marked"
    )
