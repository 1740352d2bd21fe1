#!/usr/bin/env python3
"""Fail when any two modules of a package import each other, directly or through others.

Every import counts: top level, inside functions and under `if TYPE_CHECKING:` (a cycle a
type checker sees is still two modules that know each other). Packages are not nodes of
their own: `import qbtui.runs` from qbtui.runs.manager is an edge to qbtui.runs/__init__.py.

    PYTHONPATH=$PWD python scripts/import_cycles.py [PACKAGE]    # default: qbtui
"""

from __future__ import annotations

import sys

import grimp


def import_cycles(package: str) -> list[list[str]]:
    """Each set of modules that reach each other by imports (sorted), largest first."""
    graph = grimp.build_graph(package, cache_dir=None)
    modules = sorted(graph.modules)
    edges = {module: sorted(graph.find_modules_directly_imported_by(module)) for module in modules}
    return _strongly_connected(modules, edges)


def _strongly_connected(nodes: list[str], edges: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; components of one node without a self-edge are left out."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in edges[node]:
                    components.append(sorted(component))
    return sorted(components, key=lambda component: (-len(component), component))


def main(argv: list[str]) -> int:
    package = argv[1] if len(argv) > 1 else "qbtui"
    cycles = import_cycles(package)
    for cycle in cycles:
        print("import cycle: " + " <-> ".join(cycle))
    if cycles:
        return 1
    print(f"no import cycles among the modules of {package}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
