"""The shape of the two board-side packages, read from their source with
ast (so it runs on CPython): plexus_core, shared with CPython, and
plexus_board, the board runtime. Every import counts, also one inside a
function (a lazy import is still a dependency)."""

import ast
import os

from support import mpy

PACKAGES = ("plexus_core", "plexus_board")
LINKS = ("wslink.py", "httplink.py", "refusals.py")


def modules():
    """{module name: ast tree} of both packages."""
    out = {}
    for pkg in PACKAGES:
        d = os.path.join(mpy.CORE, pkg)
        for f in sorted(os.listdir(d)):
            if f.endswith(".py"):
                name = pkg if f == "__init__.py" else pkg + "." + f[:-3]
                with open(os.path.join(d, f)) as fh:
                    out[name] = ast.parse(fh.read(), f)
    return out


def imports(tree, known):
    """The modules of `known` a module imports (from a package: its submodules too)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(node.module + "." + a.name for a in node.names)
    return {m for m in found if m in known}


def graph():
    mods = modules()
    return {name: imports(tree, mods) - {name} for name, tree in mods.items()}


def cycle(g):
    """One import cycle as a list of modules, or None (iterative DFS)."""
    state = {}
    for root in sorted(g):
        if root in state:
            continue
        path = [root]
        stack = [iter(sorted(g[root]))]
        state[root] = "open"
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = "done"
                stack.pop()
            elif state.get(nxt) == "open":
                return path[path.index(nxt):] + [nxt]
            elif nxt not in state:
                state[nxt] = "open"
                path.append(nxt)
                stack.append(iter(sorted(g[nxt])))
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycles_in_either_package():
    g = graph()
    assert len(g) > 30 and "plexus_board.client" in g and "plexus_core.delivery" in g
    assert cycle(g) is None, "import cycle: %s" % " -> ".join(cycle(g))


def test_the_shared_core_never_imports_the_board_runtime():
    g = graph()
    bad = {m: sorted(d) for m, d in g.items() if m.startswith("plexus_core")
           and any(x.startswith("plexus_board") for x in d)}
    assert not bad, bad


def test_cpython_code_never_imports_the_board_runtime():
    # (deploy and demo copy its files to a board; they never import it)
    board = {m for m in modules() if m.startswith("plexus_board")}
    bad = []
    for d, _, files in os.walk(os.path.join(mpy.ROOT, "cpython")):
        for f in files:
            if f.endswith(".py"):
                with open(os.path.join(d, f)) as fh:
                    if imports(ast.parse(fh.read()), board | {"plexus_board"}):
                        bad.append(os.path.join(d, f))
    assert len(board) > 10 and not bad, bad


def test_links_use_no_private_attribute_of_another_object():
    # They are given what they need (settings, flash log, clocks, and the
    # client's public outcome attributes), never the client's internals.
    mods = modules()
    bad = []
    for f in LINKS:
        for node in ast.walk(mods["plexus_board." + f[:-3]]):
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                    and not node.attr.startswith("__")
                    and not (isinstance(node.value, ast.Name) and node.value.id == "self")):
                bad.append("%s:%d %s" % (f, node.lineno, ast.unparse(node)))
    assert not bad, bad
