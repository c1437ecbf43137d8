"""The project's import graph, read from the source with ``ast``: no import
cycle between its modules, and no import across the layers.

Every import counts, wherever it stands: at the top of a module, inside a
function (where it hides a cycle from Python until the function first runs),
under ``if TYPE_CHECKING:``, and ``importlib.import_module("literal")``.

- Cycles: imports under ``if TYPE_CHECKING:`` never run, so they cannot close
  a cycle when modules load; they are left out of the cycle search (that is
  what such a block is for). An import of one of a module's own parent
  packages is left out too: Python runs those before the module anyway.
- Breaches: every import counts, ``TYPE_CHECKING`` ones included; a type from
  a higher layer is a dependency on that layer all the same.

The layers (docs/ARCHITECTURE.md): core <- accounts <- policy; cameos: core,
accounts, policy; gen: core, policy; feed: core, accounts, policy; server:
everything but cli; cli: everything; clients: nothing internal (they speak
the wire protocol). Besides, policy decides without I/O: it may import only
core's pure modules and the pure libraries listed below, and the imports of
a process other than the api (the worker, the feed builder), followed all
the way down, never reach server.

``check_layering(root)`` takes any folder, so the tests below also plant a
breach and a cycle in a temporary tree and check that each is reported."""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

PACKAGES = ("core", "accounts", "policy", "cameos", "gen", "feed", "server", "cli", "clients")

# package -> the other project packages its modules may import
MAY_IMPORT: dict[str, frozenset[str]] = {
    "core": frozenset(),
    "accounts": frozenset({"core"}),
    "policy": frozenset({"core"}),
    "cameos": frozenset({"core", "accounts", "policy"}),
    "gen": frozenset({"core", "policy"}),
    "feed": frozenset({"core", "accounts", "policy"}),
    "server": frozenset({"core", "accounts", "policy", "cameos", "gen", "feed"}),
    "cli": frozenset({"core", "accounts", "policy", "cameos", "gen", "feed", "server", "clients"}),
    "clients": frozenset(),
}

# The core modules that do no I/O (types, errors, ids, the clock, settings'
# Struct, the text rules): the only part of core that policy may use.
# core.minilm and core.package_files read the models that decisions run on (once per process).
POLICY_CORE = frozenset(
    {
        "core", "core.clock", "core.errors", "core.ids", "core.messages", "core.settings", "core.text",
        "core.minilm", "core.package_files",
    }
)

# Outside modules policy may import: stdlib and third-party code that computes
# and does no I/O. Not here on purpose: asyncio, socket, ssl, subprocess, os,
# io, pathlib, urllib, http, pymongo, redis, httpx, requests, torch... A new
# pure library goes here.
POLICY_PURE_LIBRARIES = frozenset(
    {
        "__future__", "abc", "bisect", "collections", "dataclasses", "datetime", "decimal", "difflib",
        "enum", "fractions", "functools", "hashlib", "heapq", "itertools", "math", "numbers", "operator",
        "re", "statistics", "string", "textwrap", "types", "typing", "unicodedata", "msgspec", "numpy",
    }
)

# The modules that start a process other than the api: nothing they import,
# followed all the way down, may be in server (the web layer).
SERVERLESS_PROCESSES = {"gen.worker": "the worker", "cli.worker": "the worker", "cli.feed_builder": "the feed builder"}

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # a project module, or the top-level name of an outside one
    internal: bool  # target is a project module
    where: str  # path:line
    in_function: bool
    type_only: bool  # under ``if TYPE_CHECKING:``


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_module_literal(node: ast.AST) -> str | None:
    """The name in ``importlib.import_module("a.b")`` / ``import_module("a.b")``."""
    if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)):
        return None
    func = node.func
    called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    arg = node.args[0].value
    return arg if called == "import_module" and isinstance(arg, str) and not arg.startswith(".") else None


def read_imports(root: Path) -> tuple[set[str], list[Import]]:
    """The project's modules under ``root`` and every import they make."""
    files = {
        _module_name(root, path): path
        for package in PACKAGES
        if (root / package).is_dir()
        for path in sorted((root / package).rglob("*.py"))
    }
    modules = set(files)
    present = {package for package in PACKAGES if (root / package).is_dir()}

    def resolve(name: str) -> tuple[str, bool]:
        top = name.split(".")[0]
        if top not in present:
            return top, False
        while name and name not in modules:  # a.b.Thing -> a.b
            name = name.rpartition(".")[0]
        return name or top, True

    found: list[Import] = []
    for source, path in files.items():
        package = source if path.name == "__init__.py" else source.rpartition(".")[0]

        def add(name: str, node: ast.AST, in_function: bool, type_only: bool) -> None:
            target, internal = resolve(name)
            where = f"{path.relative_to(root)}:{node.lineno}"
            found.append(Import(source, target, internal, where, in_function, type_only))

        def visit(node: ast.AST, in_function: bool, type_only: bool) -> None:
            if isinstance(node, ast.If) and _is_type_checking(node.test):
                for child in node.body:
                    visit(child, in_function, True)
                for child in node.orelse:
                    visit(child, in_function, type_only)
                return
            if isinstance(node, ast.Import):
                for alias in node.names:
                    add(alias.name, node, in_function, type_only)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                for alias in node.names:  # `from a import b` imports the module a.b when there is one
                    candidate = f"{module}.{alias.name}"
                    add(candidate if candidate in modules else module, node, in_function, type_only)
            elif (name := _import_module_literal(node)) is not None:
                add(name, node, in_function, type_only)
            inner = in_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            for child in ast.iter_child_nodes(node):
                visit(child, inner, type_only)

        visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)), False, False)
    return modules, found


def _runtime_graph(modules: set[str], imports: list[Import]) -> dict[str, dict[str, Import]]:
    graph: dict[str, dict[str, Import]] = {m: {} for m in modules}
    for imp in imports:
        own_parent = imp.source.startswith(imp.target + ".")
        if imp.internal and not imp.type_only and imp.target != imp.source and not own_parent:
            graph[imp.source].setdefault(imp.target, imp)
    return graph


def _path(graph: dict[str, dict[str, Import]], start: str, goal: Callable[[str], bool]) -> list[str] | None:
    """The shortest chain of imports from ``start`` to a module that is ``goal`` (both included)."""
    came_from: dict[str, str | None] = {start: None}
    queue = deque([start])
    while queue:
        here = queue.popleft()
        for there in sorted(graph[here]):
            if goal(there):
                chain = [there, here]
                while (prev := came_from[chain[-1]]) is not None:
                    chain.append(prev)
                return chain[::-1]
            if there not in came_from:
                came_from[there] = here
                queue.append(there)
    return None


def find_cycles(modules: set[str], imports: list[Import]) -> list[str]:
    """One line per group of modules that import each other, with one cycle's path."""
    graph = _runtime_graph(modules, imports)
    out, seen = [], set()
    for start in sorted(modules):
        if start in seen or (loop := _path(graph, start, start.__eq__)) is None:
            continue
        group = {m for m in modules if _path(graph, start, m.__eq__) and _path(graph, m, start.__eq__)}
        seen |= group
        steps = ", ".join(
            f"{a} -> {b} at {graph[a][b].where}{' (in a function)' if graph[a][b].in_function else ''}"
            for a, b in zip(loop, loop[1:])
        )
        out.append(f"cycle: {' -> '.join(loop)} [{steps}]; modules in the cycle: {', '.join(sorted(group))}")
    return out


def find_breaches(modules: set[str], imports: list[Import]) -> list[str]:
    """One line per import that crosses the layers the wrong way."""
    out = []
    for imp in imports:
        mine = imp.source.split(".")[0]
        theirs = imp.target.split(".")[0]
        how = f"{imp.source} imports {imp.target} at {imp.where}"
        if imp.internal and theirs != mine and theirs not in MAY_IMPORT[mine]:
            allowed = ", ".join(sorted(MAY_IMPORT[mine])) or "nothing internal"
            out.append(f"breach: {how}; {mine} may import {allowed}")
        elif mine == "policy" and imp.internal and theirs == "core" and imp.target not in POLICY_CORE:
            out.append(f"breach: {how}; policy may use only core's pure modules ({', '.join(sorted(POLICY_CORE))})")
        elif mine == "policy" and not imp.internal and imp.target not in POLICY_PURE_LIBRARIES:
            out.append(f"breach: {how}; policy does no I/O: {imp.target} is not in POLICY_PURE_LIBRARIES")
    every = {m: {} for m in modules}
    for imp in imports:
        if imp.internal and imp.target != imp.source:
            every[imp.source].setdefault(imp.target, imp)
    for entry, process in SERVERLESS_PROCESSES.items():
        if entry in modules and (chain := _path(every, entry, lambda m: m.split(".")[0] == "server")):
            out.append(f"breach: {process} reaches server: {' -> '.join(chain)}")
    return out


def check_layering(root: Path) -> list[str]:
    """Every cycle and breach under ``root``, one line each; empty when all is well."""
    modules, imports = read_imports(root)
    return find_cycles(modules, imports) + find_breaches(modules, imports)


# --- the project ------------------------------------------------------------


def test_the_scan_sees_the_project():
    modules, imports = read_imports(ROOT)
    assert {"core.stores", "accounts.graph", "policy.prompt", "gen.worker", "server.app", "cli.main"} <= modules
    assert any(i.source == "accounts.graph_cache" and i.target == "accounts.graph" for i in imports)
    assert any(i.in_function and i.internal for i in imports)  # cli.main imports its commands lazily


def test_the_project_has_no_import_cycle():
    modules, imports = read_imports(ROOT)
    cycles = find_cycles(modules, imports)
    assert not cycles, "\n".join(cycles)


def test_the_project_keeps_its_layers():
    modules, imports = read_imports(ROOT)
    breaches = find_breaches(modules, imports)
    assert not breaches, "\n".join(breaches)


# --- the checker, on planted trees ------------------------------------------


def _plant(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        for parent in path.relative_to(root).parents:
            if str(parent) != "." and not (root / parent / "__init__.py").exists():
                (root / parent / "__init__.py").write_text("")
        path.write_text(text)
    return root


_CLEAN = {
    "core/stores.py": "import redis\n",
    "core/errors.py": "import msgspec\n",
    "accounts/graph.py": "from core.stores import Stores\n",
    "accounts/graph_cache.py": "from accounts import graph\n",
    "policy/prompt.py": "import re\nfrom core.errors import FabulaError\nfrom . import rules\n",
    "policy/rules.py": "from __future__ import annotations\nimport unicodedata\n",
    "gen/worker.py": "from core import stores\nfrom policy.prompt import x\n",
    "feed/posts.py": "from accounts.graph import y\nfrom .likes import z\n",
    "feed/likes.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from feed.posts import Post\n",
    "server/app.py": "from feed import posts\nfrom gen import worker\n",
    "cli/main.py": "def main():\n    from server.app import app\n",
    "cli/worker.py": "def run():\n    from gen.worker import Worker\n",
    "cli/feed_builder.py": "from cli.worker import run\nfrom feed.posts import y\n",
    "clients/sdk.py": "import httpx\n",
}


def test_a_clean_tree_passes(tmp_path):
    assert check_layering(_plant(tmp_path, _CLEAN)) == []


def test_a_cycle_hidden_in_a_function_is_reported_with_its_path(tmp_path):
    root = _plant(
        tmp_path,
        _CLEAN | {"core/stores.py": "import redis\n\ndef around():\n    from accounts.graph_cache import around\n"},
    )
    problems = check_layering(root)
    cycles = [line for line in problems if line.startswith("cycle:")]
    assert len(cycles) == 1, "\n".join(problems)
    cycle = cycles[0]
    assert cycle.startswith("cycle: accounts.graph -> core.stores -> accounts.graph_cache -> accounts.graph [")
    assert "core.stores -> accounts.graph_cache at core/stores.py:4 (in a function)" in cycle
    # the same back edge also breaks the layers: core imports nothing internal
    assert "breach: core.stores imports accounts.graph_cache at core/stores.py:4; core may import nothing internal" in problems


def test_relative_and_dynamic_imports_close_cycles_too(tmp_path):
    root = _plant(
        tmp_path,
        _CLEAN
        | {
            "feed/likes.py": "from . import posts\n",  # relative, at the top
            "feed/shares.py": "import importlib\nM = importlib.import_module('feed.comments')\n",
            "feed/comments.py": "def f():\n    from .shares import M\n",
        },
    )
    cycles = [line for line in check_layering(root) if line.startswith("cycle:")]
    assert len(cycles) == 2
    assert cycles[0].startswith("cycle: feed.comments -> feed.shares -> feed.comments [")
    assert cycles[1].startswith("cycle: feed.likes -> feed.posts -> feed.likes [")


def test_a_type_checking_import_closes_no_cycle_but_counts_as_a_breach(tmp_path):
    # feed.likes -> feed.posts under TYPE_CHECKING (in _CLEAN) closes no cycle; the same kind of import up a layer is a breach
    root = _plant(
        tmp_path, _CLEAN | {"gen/media.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from server.app import App\n"}
    )
    assert check_layering(root) == ["breach: gen.media imports server.app at gen/media.py:3; gen may import core, policy"]


def test_each_kind_of_breach_is_reported(tmp_path):
    planted = {
        "feed/views.py": "def f():\n    import server.app\n",  # feed -> server, hidden in a function
        "accounts/users.py": "from cli import main\n",  # accounts -> cli
        "gen/jobs.py": "from feed.posts import y\n",  # gen may not import feed
        "core/ids.py": "from policy import prompt\n",  # core imports nothing internal
        "policy/quota.py": "from core.stores import Stores\n",  # core, but not a pure module
        "policy/visibility.py": "import asyncio\nfrom pymongo import AsyncMongoClient\n",  # I/O libraries
        "policy/consent.py": "from accounts.graph import is_following\n",  # policy -> accounts' store
        "clients/bot.py": "from core.ids import new_id\n",  # clients speak the wire protocol only
        "cli/helper.py": "from server.app import app\n",
        "cli/worker.py": "from cli import helper\n",  # the worker reaches server through cli
        "feed/live.py": "def f():\n    from server import app\n",
        "cli/feed_builder.py": "from feed import live\n",  # ... and the feed builder through feed
    }
    problems = check_layering(_plant(tmp_path, _CLEAN | planted))
    expected = [
        "breach: feed.views imports server.app at feed/views.py:2; feed may import accounts, core, policy",
        "breach: accounts.users imports cli.main at accounts/users.py:1; accounts may import core",
        "breach: gen.jobs imports feed.posts at gen/jobs.py:1; gen may import core, policy",
        "breach: core.ids imports policy.prompt at core/ids.py:1; core may import nothing internal",
        "breach: policy.quota imports core.stores at policy/quota.py:1; policy may use only core's pure modules",
        "breach: policy.visibility imports asyncio at policy/visibility.py:1; policy does no I/O",
        "breach: policy.visibility imports pymongo at policy/visibility.py:2; policy does no I/O",
        "breach: policy.consent imports accounts.graph at policy/consent.py:1; policy may import core",
        "breach: clients.bot imports core.ids at clients/bot.py:1; clients may import nothing internal",
        "breach: feed.live imports server.app at feed/live.py:2; feed may import accounts, core, policy",
        "breach: the worker reaches server: cli.worker -> cli.helper -> server.app",
        "breach: the feed builder reaches server: cli.feed_builder -> feed.live -> server.app",
    ]
    for line in expected:
        assert any(p.startswith(line) for p in problems), f"not reported: {line}\ngot:\n" + "\n".join(problems)
    assert len(problems) == len(expected), "\n".join(problems)
