"""The package's shape: no import cycle, and no private name across a package boundary.

Every import of a ``tfp_genmodels`` module counts, also one inside a function
or under ``TYPE_CHECKING``: a cycle broken only by a lazy import is still a
cycle to read. Modules at the top of the package (``_validation``, ``_args``,
``_keras``, ...) are its internal API, shared by every subpackage; a private
module or name *inside* a subpackage (``bijectors._params``) is that
subpackage's own.
"""

from __future__ import annotations

import ast
import os

PACKAGE = "tfp_genmodels"
ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), PACKAGE)


def _modules() -> dict[str, str]:
    """Dotted module name -> file path, for every module of the package."""
    found = {}
    for directory, _, files in os.walk(ROOT):
        for name in files:
            if name.endswith(".py"):
                rel = os.path.relpath(os.path.join(directory, name), os.path.dirname(ROOT))
                dotted = rel[:-3].replace(os.sep, ".")
                found[dotted.removesuffix(".__init__")] = os.path.join(directory, name)
    return found


MODULES = _modules()


def _imports(module: str) -> list[tuple[str, str | None]]:
    """``(target module, imported name or None)`` for each import in ``module``."""
    with open(MODULES[module], encoding="utf-8") as f:
        tree = ast.parse(f.read())
    is_package = MODULES[module].endswith("__init__.py")
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(alias.name, None) for alias in node.names if alias.name in MODULES]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                parts = module.split(".")[:len(module.split(".")) - node.level + is_package]
                base = ".".join(parts + ([base] if base else []))
            for alias in node.names:
                full = f"{base}.{alias.name}"
                if full in MODULES:
                    out.append((full, None))
                elif base in MODULES:
                    out.append((base, alias.name))
    return out


def _subpackage(module: str) -> str:
    """``flows`` for ``tfp_genmodels.flows.glow``; ``""`` for a top-level module."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or MODULES[module].endswith("__init__.py") and len(
        parts) == 2 else ""


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of the directed ``graph`` (module -> imported modules), or None."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for t in sorted(graph.get(m, ())):
            if state.get(t) == 1:
                return path[path.index(t):] + [t]
            if t not in state and (cycle := visit(t)):
                return cycle
        path.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (cycle := visit(m)):
            return cycle
    return None


def crossings(imports: dict[str, list[tuple[str, str | None]]]) -> list[str]:
    """Imports of a private module or name of another subpackage."""
    found = []
    for module, targets in imports.items():
        for target, name in targets:
            home = _subpackage(target)
            if not home or home == _subpackage(module):
                continue
            private = [p for p in target.split(".")[2:] if p.startswith("_")]
            if private or (name or "").startswith("_"):
                found.append(f"{module} imports {target}" + (f".{name}" if name else ""))
    return found


def test_no_import_cycle():
    graph = {m: {t for t, _ in _imports(m) if t != m} for m in MODULES}
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_no_private_name_crosses_a_package_boundary():
    assert not crossings({m: _imports(m) for m in MODULES})


def test_the_checks_can_fail():
    """Fed the shapes this issue removed, the checks report them."""
    graph = {m: {t for t, _ in _imports(m) if t != m} for m in MODULES}
    graph["tfp_genmodels.vae.diagnostics"].add("tfp_genmodels.vae.model")  # 0.1.0's cycle
    assert find_cycle(graph) is not None
    assert crossings({"tfp_genmodels.flows.glow": [("tfp_genmodels.bijectors._params", None)],
                      "tfp_genmodels.vae.model": [("tfp_genmodels.flows.pixels", "_max")]})
    assert not crossings({"tfp_genmodels.flows.glow": [("tfp_genmodels._validation", None)]})


#: The most lines a module may have (issue 22): small modules, one concern each.
MAX_LINES = 400


def long_modules(modules: dict[str, str], limit: int = MAX_LINES) -> list[str]:
    """``"module: N lines"`` for each module longer than ``limit``."""
    found = []
    for module, path in sorted(modules.items()):
        with open(path, encoding="utf-8") as f:
            count = sum(1 for _ in f)
        if count > limit:
            found.append(f"{module}: {count} lines")
    return found


def test_every_module_is_at_most_400_lines():
    assert not long_modules(MODULES)
    assert long_modules(MODULES, limit=50)  # the check sees the long ones


def _source(module: str) -> str:
    """The module's code without comments and docstrings."""
    with open(MODULES[module], encoding="utf-8") as f:
        tree = ast.parse(f.read())
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return ast.unparse(tree)


def test_the_ffjord_recipe_holds_no_solver_or_trace_code():
    """The solve, the traces and the vector field live with the bijector
    (``bijectors.ode``, ``bijectors.vector_fields``); the recipe composes them."""
    recipe = _source("tfp_genmodels.flows.continuous")
    for piece in ("tfp.math.ode", "trace_jacobian", "GradientTape", "tfb.FFJORD(",
                  "stateless_uniform", "keras.layers.Dense(", ".solve("):
        assert piece not in recipe, piece
    assert "tfb.FFJORD(" in _source("tfp_genmodels.bijectors.continuous")
    assert "trace_jacobian_exact" in _source("tfp_genmodels.bijectors.ode")


def test_the_estimator_path_has_no_special_case():
    """Every training step goes through the model's estimator (reparameterised
    gradients are one), and no part is chosen by an if-chain outside the tables."""
    steps = _source("tfp_genmodels.vae.steps")
    model = _source("tfp_genmodels.vae.model")
    for special in ("estimator is not None", "estimator is None", "closed=None"):
        assert special not in steps + model, special
    assert "is_discrete" not in steps and "self.estimator.terms(" in steps
    resolution = _source("tfp_genmodels.vae.parts")
    for name in ("DiagonalGaussianPosterior", "MixturePrior", "GaussianLikelihood"):
        assert resolution.count(f"{name}(") == 0, f"{name} built outside its table"
