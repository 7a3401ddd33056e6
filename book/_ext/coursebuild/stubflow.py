"""Can an exercises notebook fail anywhere but at its stubs? Read from its code, with no kernel.

A learner runs the exercises notebook top to bottom before writing anything. Every error they
see must be a stub's `NotImplementedError` (raised in the stub's cell, or by a later cell that
calls the stub: a checker, a training loop). Executing every exercises notebook to prove that
costs as much as executing the page again; this module proves it from the code instead, by
following, cell after cell, which names exist in the exercises notebook and which may not:

- a stub cell's top-level `raise NotImplementedError` stops the cell: what it would have
  assigned after that point does not exist;
- a statement that uses something a stub made (the stub function, an instance of a class with
  stubbed methods, a function that calls either) may stop there, with the same consequence;
- a later cell that reads a name that may not exist would raise `NameError`: that is the failure
  this module reports, with the cell that lost the name.

It also reports a `raise NotImplementedError` outside an exercise cell, a cell that does not
parse, and a stub that does not define the names (and signatures) its solution defines.

It is conservative on purpose: "may stop" counts as "stops". The full execution, which the
rule was first written for, stays available as `make test-exercises` (and in the GitHub Actions
workflow); `tests/test_exercises_static.py` shows both agree on crafted notebooks.
"""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass, field

STUB_TAG = "exercise"
# names an IPython kernel defines besides Python's builtins
_KERNEL_NAMES = {"display", "get_ipython", "In", "Out", "exit", "quit", "__name__", "__file__", "__builtins__"}
_BUILTINS = set(dir(builtins)) | _KERNEL_NAMES


def is_stub_cell(cell) -> bool:
    return STUB_TAG in cell.get("metadata", {}).get("tags", [])


def _python_source(source: str) -> str | None:
    """The cell's code with IPython's line magics and shell escapes blanked (None: a cell magic)."""
    lines = source.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        return None
    out = []
    for line in lines:
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")):
            out.append(line[: len(line) - len(stripped)] + "pass")
        else:
            out.append(line)
    return "\n".join(out)


class _Executed(ast.NodeVisitor):
    """The names a statement reads and binds when it runs (function and lambda bodies excluded)."""

    def __init__(self) -> None:
        self.loads: set[str] = set()
        self.stores: set[str] = set()
        self.deletes: set[str] = set()
        self.calls: set[str] = set()  # names called directly: `f(...)`
        self.raises_not_implemented = False
        self.star_import = False

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self.loads.add(node.id)
        elif isinstance(node.ctx, ast.Store):
            self.stores.add(node.id)
        else:
            self.deletes.add(node.id)

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Name):
            self.calls.add(node.func.id)
        self.generic_visit(node)

    def _arguments(self, args: ast.arguments) -> None:
        for default in [*args.defaults, *args.kw_defaults]:
            if default is not None:
                self.visit(default)
        for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
            if arg is not None and arg.annotation is not None:
                self.visit(arg.annotation)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for deco in node.decorator_list:
            self.visit(deco)
        self._arguments(node.args)
        if node.returns is not None:
            self.visit(node.returns)
        self.stores.add(node.name)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._arguments(node.args)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for deco in node.decorator_list:
            self.visit(deco)
        for base in [*node.bases, *(k.value for k in node.keywords)]:
            self.visit(base)
        inner = _Executed()  # the class body runs now, in its own namespace
        for stmt in node.body:
            inner.visit(stmt)
        self.loads |= inner.loads - inner.stores
        self.calls |= inner.calls
        self.raises_not_implemented |= inner.raises_not_implemented
        self.stores.add(node.name)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.stores.add(alias.asname or alias.name.split(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name == "*":
                self.star_import = True
            else:
                self.stores.add(alias.asname or alias.name)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self.stores.add(node.name)
        self.generic_visit(node)

    def visit_Raise(self, node: ast.Raise) -> None:
        exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
        if isinstance(exc, ast.Name) and exc.id == "NotImplementedError":
            self.raises_not_implemented = True
        self.generic_visit(node)


def _executed(stmt: ast.stmt) -> _Executed:
    v = _Executed()
    v.visit(stmt)
    # a name bound and read in one statement (loop variables, comprehension targets) is its own
    v.loads -= v.stores
    return v


def _body_loads(node: ast.AST) -> set[str]:
    """Every name read anywhere inside `node`, function bodies included (what calling it may touch)."""
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _raises_in_body(node: ast.AST) -> bool:
    for n in ast.walk(node):
        if isinstance(n, ast.Raise) and n.exc is not None:
            exc = n.exc.func if isinstance(n.exc, ast.Call) else n.exc
            if isinstance(exc, ast.Name) and exc.id == "NotImplementedError":
                return True
    return False


def _init_raises(cls: ast.ClassDef) -> bool:
    return any(
        isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef)) and s.name == "__init__" and _raises_in_body(s)
        for s in cls.body
    )


@dataclass
class _State:
    defined: set[str] = field(default_factory=lambda: set(_BUILTINS))
    lost: dict[str, str] = field(default_factory=dict)  # name -> why it may not exist
    raising: set[str] = field(default_factory=set)  # calling it (or handing it on) may raise the stub's error
    stub_classes: set[str] = field(default_factory=set)  # builds fine, its methods may raise
    tainted: set[str] = field(default_factory=set)  # values whose use may raise (instances of stub classes)
    star: bool = False


def _signatures(tree: ast.Module) -> dict[str, str]:
    """Top-level function and class names with their argument lists (methods' too, for classes)."""
    out = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out[node.name] = ast.unparse(node.args)
        elif isinstance(node, ast.ClassDef):
            methods = [
                f"{m.name}({ast.unparse(m.args)})"
                for m in node.body
                if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))
            ]
            out[node.name] = "; ".join(methods)
    return out


def stub_signature_problems(stub_source: str, solution_source: str, where: str) -> list[str]:
    """A stub must define every function and class its solution defines, with the same arguments."""
    try:
        stub_sigs = _signatures(ast.parse(_python_source(stub_source) or ""))
        sol_sigs = _signatures(ast.parse(_python_source(solution_source) or ""))
    except SyntaxError as err:
        return [f"{where} does not parse: {err}"]
    problems = []
    for name, sig in sol_sigs.items():
        if name not in stub_sigs:
            problems.append(f"{where}: the solution defines `{name}`, the stub does not")
        elif stub_sigs[name] != sig:
            problems.append(f"{where}: `{name}` takes ({stub_sigs[name]}) in the stub but ({sig}) in the solution")
    return problems


def notebook_problems(nb) -> list[str]:
    """Why this exercises notebook, run top to bottom, may fail somewhere other than at a stub."""
    state = _State()
    problems: list[str] = []
    n = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        n += 1
        first = cell.source.strip().splitlines()[0][:60] if cell.source.strip() else ""
        where = f"code cell {n} (`{first}`)"
        source = _python_source(cell.source)
        if source is None:
            continue
        try:
            tree = ast.parse(source)
        except SyntaxError as err:
            problems.append(f"{where} does not parse: {err.msg} (line {err.lineno})")
            continue
        stub = is_stub_cell(cell)
        if not stub and _raises_in_body(tree):
            problems.append(f"{where} raises NotImplementedError outside a cell tagged `{STUB_TAG}`")
        for i, stmt in enumerate(tree.body):
            ex = _executed(stmt)
            if ex.star_import:
                state.star = True
            if not state.star:
                for name in sorted(ex.loads - state.defined):
                    why = state.lost.get(name, "it is never defined above")
                    problems.append(f"{where}, line {stmt.lineno}: `{name}` may not exist here ({why}): NameError")
            stops = (stub and ex.raises_not_implemented) or bool(ex.loads & (state.raising | state.tainted))
            uses_class = ex.loads & state.stub_classes
            if uses_class and not (uses_class <= ex.calls):
                stops = True  # a stub class handed on (to a checker, a trainer) may be used there
            if stops:
                rest = set().union(*(_executed(s).stores for s in tree.body[i:]))
                for name in rest:
                    state.defined.discard(name)
                    state.lost[name] = f"{where} may stop at a stub before line {stmt.lineno} assigns it"
                break
            state.defined |= ex.stores
            state.defined -= ex.deletes
            for name in ex.stores:
                state.lost.pop(name, None)
            made_from_stub_class = bool(uses_class)
            for name in ex.stores:
                state.raising.discard(name)
                state.stub_classes.discard(name)
                state.tainted.discard(name)
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                touches = _body_loads(stmt) & (state.raising | state.tainted | state.stub_classes)
                if (stub and _raises_in_body(stmt)) or touches:
                    state.raising.add(stmt.name)
            elif isinstance(stmt, ast.ClassDef):
                bases = {b.id for b in stmt.bases if isinstance(b, ast.Name)}
                stubbed = (stub and _raises_in_body(stmt)) or bool(
                    _body_loads(stmt) & (state.raising | state.tainted | state.stub_classes)
                )
                if (stub and _init_raises(stmt)) or bases & state.raising:
                    state.raising.add(stmt.name)
                elif stubbed or bases & state.stub_classes:
                    state.stub_classes.add(stmt.name)
            elif made_from_stub_class:
                state.tainted |= ex.stores
    return problems
