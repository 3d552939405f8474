"""The apps sit in layers, and a module imports only from its own layer or the ones below it.

Read from the source (every import statement, including those inside functions), so a lazy import cannot hide
a cycle; only imports under `if TYPE_CHECKING:` are left out, as they never run. The order is the architecture:
core's plumbing at the bottom, the import-light engine, accounts, the apps that build on them, then core's
site-wide pages and zimage's wiring on top.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Bottom to top. A module belongs to the longest prefix that names it.
LAYERS: list[tuple[str, ...]] = [
    (
        "core.api",
        "core.apps",
        "core.brokers",
        "core.csp",
        "core.db",
        "core.errors",
        "core.filters",
        "core.http_metrics",
        "core.openapi",
        "core.pagination",
        "core.parsers",
        "core.redis_clients",
        "core.socket_language",  # a WebSocket's language, for consumers below the site's layer
        "core.request_id",  # a contextvar and its middleware: the job records the id, the logs print it
    ),
    ("generation.engine",),
    ("accounts",),
    ("gallery",),
    ("brands",),  # styles and brand kits: templates, jobs and stories apply them
    ("templates_app",),
    ("webhooks",),  # below generation: jobs hand it their events; it reads no job model code
    ("generation",),
    ("scenes",),
    ("batches",),  # a batch's jobs are generation jobs; nothing below knows batches exist
    ("compat",),  # the earlier APIs' routes translate to every app's services; nothing imports them
    ("core",),  # health, the landing page, template tags and context processors read every app
    ("zimage",),
]
FIRST_PARTY = {
    "accounts",
    "batches",
    "brands",
    "compat",
    "core",
    "gallery",
    "generation",
    "scenes",
    "templates_app",
    "webhooks",
    "zimage",
}


def layer_of(module: str) -> int:
    matches = [
        (len(prefix), index)
        for index, prefixes in enumerate(LAYERS)
        for prefix in prefixes
        if module == prefix or module.startswith(prefix + ".")
    ]
    return max(matches)[1]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def runtime_imports(tree: ast.AST):
    """Every import node, skipping `if TYPE_CHECKING:` blocks."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            yield from (imp for child in node.orelse for imp in runtime_imports(child))
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        yield from runtime_imports(node)


def is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def imported_modules(path: Path, module: str) -> set[str]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in runtime_imports(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
            continue
        if node.level:
            parts = package.split(".")
            base = parts[: len(parts) - node.level + 1]
            target = ".".join([*base, node.module] if node.module else base)
        else:
            target = node.module or ""
        for alias in node.names:  # `from pkg import module` depends on the module, else on pkg itself
            found.add(f"{target}.{alias.name}" if is_module(f"{target}.{alias.name}") else target)
    return {name for name in found if name.split(".")[0] in FIRST_PARTY}


def sources() -> list[Path]:
    return sorted(
        path
        for app in FIRST_PARTY
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.parts and "management" not in path.parts
    )


@pytest.mark.parametrize("path", sources(), ids=lambda path: str(path.relative_to(ROOT)))
def test_a_module_imports_nothing_from_a_layer_above_its_own(path):
    module = module_name(path)
    own = layer_of(module)
    above = sorted(target for target in imported_modules(path, module) if layer_of(target) > own)
    assert above == [], f"{module} (layer {own}) imports from layers above it: {above}"


def test_the_engine_imports_no_app_at_all():
    engine = ROOT / "generation" / "engine"
    for path in engine.rglob("*.py"):
        outside = {name for name in imported_modules(path, module_name(path)) if not name.startswith("generation")}
        assert outside == set(), f"{module_name(path)} imports {outside}"
