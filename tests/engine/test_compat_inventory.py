"""Code and the compatibility inventory agree (``persistence/engine/compat.py``).

The check reads the code (AST), not the running program:

- every attribute access ``obj._name`` and every string constant ``"_name"`` (as in
  ``getattr(obj, "_name")``) in ``persistence/`` and ``adapters/`` whose name MongoEngine,
  PyMongo, bson or gridfs define is inventoried and appears only in the compatibility
  module; a private name from these libraries that is not inventoried fails wherever it
  is used, and so does a private name defined by nobody in our code or theirs;
- our own private names that these libraries happen to define too are listed
  (:data:`~persistence.engine.compat.OURS_ALSO_IN_LIBRARIES`), so a new clash is a
  decision; an access ``self._name`` inside a class of ours that sets ``_name`` itself
  is that class's own attribute;
- private imports (``from mongoengine.base.common import _document_registry``, a private
  module such as ``pymongo._csot``) appear only in the compatibility module;
- every inventoried name is still used there, and the installed release's owner module
  still defines it;
- the methods the engine replaces are exactly the inventoried ones (checked at run time:
  :func:`~persistence.engine.compat.replace` refuses any other).
"""

from __future__ import annotations

import ast
import functools
import importlib
import importlib.util
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from persistence.engine import compat

ROOT = Path(__file__).resolve().parents[2]
CODE_ROOTS = ("persistence", "adapters")
COMPAT = Path("persistence/engine/compat.py")
LIBRARIES = ("mongoengine", "pymongo", "bson", "gridfs")
DOCUMENT_KEYS = frozenset({"_id", "_cls"})  # BSON keys, as strings they name no attribute


def _private(name: str) -> bool:
    return (
        name.startswith("_") and name != "_" and not (name.startswith("__") and name.endswith("__"))
    )


def _mangled(name: str, classes: list[str]) -> str:
    if name.startswith("__") and not name.endswith("__") and classes:
        return f"_{classes[-1].lstrip('_')}{name}"
    return name


def _defined_names(tree: ast.AST) -> Iterator[tuple[str, str]]:
    """(private name, class or "") for every name ``tree`` defines: functions, classes,
    assignments to names and attributes, ``setattr`` with a constant name, and string
    keys stored into a mapping (MongoEngine's metaclass sets ``attrs["_meta"]``)."""
    classes: list[str] = []

    def walk(node: ast.AST) -> Iterator[tuple[str, str]]:
        owner = classes[-1] if classes else ""
        name: str | None = None
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            name = node.name
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            name = node.attr
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            name = node.id
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.ctx, ast.Store)
            and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, str)
        ):
            name = node.slice.value
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("setattr", "__setattr__")
            and len(node.args) > 1
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
        ):
            name = node.args[1].value
        if name is not None:
            name = _mangled(name, classes)
            if _private(name):
                yield name, owner
        if isinstance(node, ast.ClassDef):
            classes.append(node.name)
        for child in ast.iter_child_nodes(node):
            yield from walk(child)
        if isinstance(node, ast.ClassDef):
            classes.pop()

    yield from walk(tree)


@functools.cache
def library_names() -> dict[str, frozenset[str]]:
    """Private name -> the modules of the installed libraries that define it."""
    found: dict[str, set[str]] = {}
    for package in LIBRARIES:
        origin = importlib.util.find_spec(package).origin  # type: ignore[union-attr]
        base = Path(origin).parent  # type: ignore[arg-type]
        for path in base.rglob("*.py"):
            module = ".".join((package, *path.relative_to(base).with_suffix("").parts))
            module = module.removesuffix(".__init__")
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for name, _ in _defined_names(tree):
                found.setdefault(name, set()).add(module)
    return {name: frozenset(modules) for name, modules in found.items()}


class Violation(NamedTuple):
    path: str
    line: int
    name: str
    why: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.name}: {self.why}"


def _class_own_names(trees: dict[str, ast.Module]) -> dict[str, set[str]]:
    """Class name -> private names the class (or a base class of ours) defines itself."""
    own: dict[str, set[str]] = {}
    bases: dict[str, list[str]] = {}
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                names = own.setdefault(node.name, set())
                for base in node.bases:
                    if isinstance(base, ast.Subscript):  # Generic[T], Base[E]
                        base = base.value
                    if isinstance(base, (ast.Name, ast.Attribute)):
                        bases.setdefault(node.name, []).append(
                            base.id if isinstance(base, ast.Name) else base.attr
                        )
                for inner in ast.walk(node):
                    if isinstance(inner, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        names.add(inner.name)
                    elif isinstance(inner, ast.Name) and isinstance(inner.ctx, ast.Store):
                        names.add(inner.id)
                    elif (
                        isinstance(inner, ast.Attribute)
                        and isinstance(inner.ctx, ast.Store)
                        and isinstance(inner.value, ast.Name)
                        and inner.value.id in ("self", "cls")
                    ):
                        names.add(inner.attr)
                    elif (
                        isinstance(inner, ast.Subscript)
                        and isinstance(inner.ctx, ast.Store)
                        and ast.unparse(inner.value) == "self.__dict__"
                        and isinstance(inner.slice, ast.Constant)
                        and isinstance(inner.slice.value, str)
                    ):
                        names.add(inner.slice.value)  # self.__dict__["_x"] = ...
                    elif isinstance(inner, ast.Assign) and any(
                        isinstance(t, ast.Name) and t.id == "__slots__" for t in inner.targets
                    ):
                        names.update(
                            c.value
                            for c in ast.walk(inner.value)
                            if isinstance(c, ast.Constant) and isinstance(c.value, str)
                        )
                    elif (
                        isinstance(inner, ast.Call)
                        and isinstance(inner.func, ast.Attribute)
                        and inner.func.attr == "__setattr__"
                        and len(inner.args) > 1
                        and isinstance(inner.args[1], ast.Constant)
                        and isinstance(inner.args[1].value, str)
                    ):
                        names.add(inner.args[1].value)  # object.__setattr__(self, "_x", ...)
    resolved: dict[str, set[str]] = {}

    def names_of(cls: str, seen: frozenset[str] = frozenset()) -> set[str]:
        if cls in resolved:
            return resolved[cls]
        result = set(own.get(cls, ()))
        for base in bases.get(cls, ()):
            if base in own and base not in seen:
                result |= names_of(base, seen | {cls})
        resolved[cls] = result
        return result

    return {cls: names_of(cls) for cls in own}


def _our_names(trees: dict[str, ast.Module], class_own: dict[str, set[str]]) -> set[str]:
    """Private names our code defines: functions, classes, variables, and the attributes
    our classes set on themselves (not attributes set on other objects)."""
    names = set().union(*class_own.values())
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
    return {name for name in names if _private(name)}


def _docstrings(tree: ast.Module) -> set[int]:
    """Docstrings and ``__slots__`` entries (they name our own attributes)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__slots__" for t in node.targets
        ):
            found.update(id(c) for c in ast.walk(node.value) if isinstance(c, ast.Constant))
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                found.add(id(value))
    return found


def analyse(sources: dict[str, str]) -> list[Violation]:
    """What in ``sources`` (path -> code) disagrees with the inventory."""
    inventoried = {row.name for row in compat.INVENTORY if _private(row.name)}
    shared = set(compat.OURS_ALSO_IN_LIBRARIES)
    theirs = library_names()
    trees = {path: ast.parse(text) for path, text in sources.items()}
    class_own = _class_own_names(trees)
    ours = _our_names(trees, class_own)
    found: list[Violation] = []
    for path, tree in trees.items():
        if Path(path) == COMPAT:
            continue
        docstrings = _docstrings(tree)

        def visit(
            node: ast.AST, cls: str | None, path: str = path, docstrings: set[int] = docstrings
        ) -> None:
            for child in ast.iter_child_nodes(node):
                inner = child.name if isinstance(child, ast.ClassDef) else cls
                if isinstance(child, ast.Attribute) and _private(child.attr):
                    found.extend(
                        _attribute(path, child, cls, inventoried, shared, theirs, ours, class_own)
                    )
                elif (
                    isinstance(child, ast.Constant)
                    and isinstance(child.value, str)
                    and child.value in inventoried
                    and child.value not in DOCUMENT_KEYS
                    and id(child) not in docstrings
                ):
                    found.append(
                        Violation(
                            path,
                            child.lineno,
                            child.value,
                            "inventoried name as a string outside compat",
                        )
                    )
                elif isinstance(child, (ast.ImportFrom, ast.Import)):
                    found.extend(_import(path, child))
                visit(child, inner)

        visit(tree, None)
    return found


def _attribute(
    path: str,
    node: ast.Attribute,
    cls: str | None,
    inventoried: set[str],
    shared: set[str],
    theirs: dict[str, frozenset[str]],
    ours: set[str],
    class_own: dict[str, set[str]],
) -> Iterable[Violation]:
    name = node.attr
    on_self = isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")
    if on_self and cls is not None and name in class_own.get(cls, ()):
        return []  # the class's own attribute
    if name in inventoried:
        return [Violation(path, node.lineno, name, "inventoried name used outside compat")]
    if name in theirs:
        if name in ours and name in shared:
            return []
        if name in ours:
            return [
                Violation(path, node.lineno, name, "ours and a library's: inventory it or list it")
            ]
        return [Violation(path, node.lineno, name, "a library's private name, not inventoried")]
    if name not in ours:
        return [Violation(path, node.lineno, name, "private name defined nowhere we look")]
    return []


def _import(path: str, node: ast.Import | ast.ImportFrom) -> Iterable[Violation]:
    if isinstance(node, ast.ImportFrom):
        module = node.module or ""
        if node.level or module.split(".")[0] not in LIBRARIES:
            return []
        if any(_private(part) for part in module.split(".")):
            return [Violation(path, node.lineno, module, "private module imported outside compat")]
        return [
            Violation(path, node.lineno, alias.name, "private name imported outside compat")
            for alias in node.names
            if _private(alias.name)
        ]
    return [
        Violation(path, node.lineno, alias.name, "private module imported outside compat")
        for alias in node.names
        if alias.name.split(".")[0] in LIBRARIES
        and any(_private(part) for part in alias.name.split("."))
    ]


def compat_uses(text: str) -> set[str]:
    """Private names the compatibility module reads, sets, calls, imports or names."""
    used = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            used.add(node.attr)
        elif (
            isinstance(node, ast.Constant) and isinstance(node.value, str) and _private(node.value)
        ):
            used.add(node.value)
        elif isinstance(node, ast.ImportFrom):
            used.update(alias.name for alias in node.names)
    return used


def _project_sources() -> dict[str, str]:
    return {
        str(path.relative_to(ROOT)): path.read_text(encoding="utf-8")
        for root in CODE_ROOTS
        for path in sorted((ROOT / root).rglob("*.py"))
    }


# -- the project ------------------------------------------------------------------------


def test_no_private_library_name_outside_compat() -> None:
    violations = analyse(_project_sources())
    assert not violations, "\n".join(map(str, violations))


def test_every_inventoried_name_is_used_by_compat() -> None:
    used = compat_uses((ROOT / COMPAT).read_text(encoding="utf-8"))
    unused = sorted({row.name for row in compat.INVENTORY if _private(row.name)} - used)
    assert not unused, f"inventoried, no longer used by compat.py: {unused}"


def defined_by_owner(row: compat.Private) -> bool:
    """True when the installed owner defines ``row.name``: the class (or a class it
    inherits from) has it, or the module of the class or of one of its bases sets it
    (instance attributes are set in ``__init__``); for a module owner, the module."""
    module_name, _, classes = row.owner.partition(":")
    module = importlib.import_module(module_name)
    theirs = library_names().get(row.name, frozenset())
    if not classes:
        return row.name in vars(module) or module_name in theirs
    for class_name in classes.split("/"):
        cls = getattr(module, class_name, None)
        if cls is None:
            return False
        mro_modules = {klass.__module__ for klass in cls.__mro__}
        if not (any(row.name in vars(klass) for klass in cls.__mro__) or mro_modules & theirs):
            return False
    return True


def test_every_inventoried_name_is_defined_by_the_installed_owner() -> None:
    missing = [f"{row.name} ({row.owner})" for row in compat.INVENTORY if not defined_by_owner(row)]
    assert not missing, f"not defined by the installed release: {missing}"


def test_the_inventory_has_one_row_per_name_and_owner() -> None:
    keys = [(row.name, row.owner) for row in compat.INVENTORY]
    assert len(keys) == len(set(keys))
    assert all(row.use and row.checked_on for row in compat.INVENTORY)


def test_listed_shared_names_are_ours_and_a_librarys() -> None:
    theirs = library_names()
    trees = {path: ast.parse(text) for path, text in _project_sources().items()}
    ours = _our_names(trees, _class_own_names(trees))
    stale = sorted(n for n in compat.OURS_ALSO_IN_LIBRARIES if n not in ours)
    assert not stale, f"listed as ours, but not defined by our code: {stale}"
    # (a listed name some supported release does not define is fine: another one does)
    assert set(compat.OURS_ALSO_IN_LIBRARIES) & set(theirs), "none clashes on this release"


def test_the_replaced_methods_are_the_inventoried_ones() -> None:
    import persistence.engine  # noqa: F401  (activates the graft)

    inventoried = {
        (row.owner, row.name) for row in compat.INVENTORY if row.how is compat.How.REPLACED
    }
    assert compat.replaced() == inventoried


def test_a_replacement_not_inventoried_is_refused() -> None:
    class Owner:
        def save(self) -> None:
            """Not MongoEngine's."""

    with pytest.raises(KeyError, match="not inventoried as replaced"):
        compat.replace(Owner, "save", lambda original: original)
    assert Owner.__dict__["save"].__doc__ == "Not MongoEngine's."


# -- the check itself, on seeded violations ---------------------------------------------


def _seeded(code: str, path: str = "persistence/engine/seeded.py") -> list[str]:
    sources = _project_sources()
    sources[path] = code
    return [v.why for v in analyse(sources) if v.path == path]


def test_seeded_inventoried_attribute_outside_compat_fails() -> None:
    assert _seeded("def f(qs):\n    return qs._query_obj\n") == [
        "inventoried name used outside compat"
    ]


def test_seeded_inventoried_name_as_string_fails() -> None:
    assert _seeded("def f(doc):\n    return getattr(doc, '_data')\n") == [
        "inventoried name as a string outside compat"
    ]


def test_seeded_library_name_not_inventoried_fails() -> None:
    # QuerySet._result_cache: MongoEngine's, not read by the engine today
    assert "_result_cache" in library_names()
    assert _seeded("def f(qs):\n    return qs._result_cache\n") == [
        "a library's private name, not inventoried"
    ]


def test_seeded_private_import_fails() -> None:
    assert _seeded("from mongoengine.base.common import _document_registry\n") == [
        "private name imported outside compat"
    ]
    assert _seeded("from pymongo._csot import get_timeout\n") == [
        "private module imported outside compat"
    ]


def test_seeded_unknown_private_name_fails() -> None:
    assert _seeded("def f(x):\n    return x._nobody_defines_this\n") == [
        "private name defined nowhere we look"
    ]


def test_seeded_own_attribute_passes_and_the_compat_module_may_read_anything() -> None:
    own = (
        "class Box:\n"
        "    def __init__(self):\n"
        "        self._contents = 1\n\n"
        "    def get(self):\n"
        "        return self._contents\n"
    )
    assert _seeded(own) == []
    assert _seeded("def f(qs):\n    return qs._query_obj\n", path=str(COMPAT)) == []


def test_seeded_owner_that_does_not_define_the_name_fails() -> None:
    row = compat.Private("_query_flags", "mongoengine.queryset.base:BaseQuerySet", "seeded")
    assert not defined_by_owner(row)
    assert defined_by_owner(row._replace(owner="pymongo.asynchronous.cursor:AsyncCursor"))


def test_seeded_unused_row_and_missing_name_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    row = compat.Private("_no_such_name", "mongoengine.queryset.base:BaseQuerySet", "seeded")
    monkeypatch.setattr(compat, "INVENTORY", (*compat.INVENTORY, row))
    with pytest.raises(AssertionError, match="_no_such_name"):
        test_every_inventoried_name_is_used_by_compat()
    with pytest.raises(AssertionError, match="_no_such_name"):
        test_every_inventoried_name_is_defined_by_the_installed_owner()
