"""What a stored run's code computes: a fingerprint recorded with each run and checked on every read.

A store key hashes a run's configuration and the printed structure of its model, which misses a
change inside ``forward`` (``F.relu`` turned into ``F.gelu`` prints the same). So each stored run also
records, under ``result.json``'s ``fingerprint``:

``code``
    for every class and function of this package that builds or runs the model (the classes of all
    its submodules, the registered builder, and whatever package-level names their code uses, followed
    recursively), a hash of its source with comments, docstrings and formatting removed
    (``ast.unparse``), by qualified name. A classical baseline records ``classical.fit_classical`` and
    what it uses. Editing a comment or a docstring changes nothing; editing code changes the hash of
    exactly the object edited, which the error names with its file.
``probe``
    the model's outputs on a fixed input from a fixed initialisation, in evaluation mode and in
    training mode (dropout seeded): what the model *computes*, compared with a tolerance so that float
    rounding on another machine does not matter, while a changed activation, initialisation or layer
    order moves it far outside.

``check`` compares a stored fingerprint with the current code. A code hash that changed while the
probe agrees is a refactoring that computes the same (``fmnist-book verify --update`` records the new
hashes); a probe that differs means the stored numbers no longer come from the code, and the run
has to be trained again. The training step itself is pinned separately (``config.ENGINE_VERSION`` is
part of every key, and a test pins a loss trajectory).
"""
from __future__ import annotations

import ast
import functools
import hashlib
import inspect
import sys
import textwrap
import types

import numpy as np
import torch

PACKAGE = __name__.split(".")[0]
# Modules that only find a model by its name: their code decides nothing about what it computes.
NOT_COMPUTATION = {f"{PACKAGE}.models.registry"}
PROBE_IMAGES = 4  # images of the fixed probe input
PROBE_RTOL, PROBE_ATOL = 1e-3, 1e-4  # float rounding between machines stays far inside; a changed op does not


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return tree


@functools.cache
def _normalised(obj) -> tuple[str, ast.AST]:
    """Source of a class or function without comments, docstrings or formatting, and its syntax tree."""
    tree = _strip_docstrings(ast.parse(textwrap.dedent(inspect.getsource(obj))))
    return ast.unparse(tree), tree


def _names_used(obj, tree: ast.AST) -> list:
    """Objects of this package that the code of ``obj`` names (``helper``, ``module.helper``)."""
    namespace = vars(sys.modules[obj.__module__])
    found = []
    for node in ast.walk(tree):
        target = None
        if isinstance(node, ast.Name):
            target = namespace.get(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            base = namespace.get(node.value.id)
            if isinstance(base, types.ModuleType) and base.__name__.startswith(PACKAGE):
                target = getattr(base, node.attr, None)
        if target is not None and target is not obj:
            found.append(target)
    return found


def _constant_text(value) -> str | None:
    """A package-level constant that code uses, as text (literals and containers of them)."""
    if isinstance(value, (bool, int, float, str, tuple, list, dict, frozenset)) or value is None:
        return repr(value)
    return None


def qualified_name(obj) -> str:
    return f"{obj.__module__}.{obj.__qualname__}"


def source_file(name: str) -> str:
    """``fmnist_utils.models.baseline.BaselineCNN`` -> ``fmnist_utils/models/baseline.py`` (for messages)."""
    module = name.rsplit(".", 1)[0]
    while module and module not in sys.modules:
        module = module.rsplit(".", 1)[0]
    path = getattr(sys.modules.get(module), "__file__", None) or module.replace(".", "/") + ".py"
    root = sys.modules[PACKAGE].__file__.rsplit("/", 2)[0] + "/"
    return path[len(root):] if path.startswith(root) else path


def code_hashes(roots, within: str) -> dict[str, str]:
    """``{qualified name: 16 hex}`` over ``roots`` and everything their code names that is defined in the
    package ``within`` (the model families; the classical pipeline), followed recursively. Code outside
    it (data loading, whose output is checksummed; torch itself) is not part of the fingerprint."""
    hashes: dict[str, str] = {}
    todo = list(roots)
    while todo:
        obj = todo.pop()
        module = getattr(obj, "__module__", None) or ""
        if not (inspect.isclass(obj) or inspect.isfunction(obj)) or not (
                module == within or module.startswith(within + ".")) or module in NOT_COMPUTATION:
            continue
        name = qualified_name(obj)
        if name in hashes:
            continue
        text, tree = _normalised(obj)
        used = _names_used(obj, tree)
        # constants the code reads (a table of widths, say) belong to what it computes
        constants = sorted(f"{n}={_constant_text(v)}" for n, v in vars(sys.modules[obj.__module__]).items()
                           if any(isinstance(node, ast.Name) and node.id == n for node in ast.walk(tree))
                           and _constant_text(v) is not None and not n.startswith("__"))
        hashes[name] = hashlib.sha256("\n".join([text, *constants]).encode()).hexdigest()[:16]
        todo += used
        if inspect.isclass(obj):  # methods inherited from our own base classes run too
            todo += list(obj.__mro__[1:])
    return dict(sorted(hashes.items()))


def model_roots(model: torch.nn.Module, model_name: str) -> list:
    from .models.registry import builder

    return [builder(model_name), *{type(m) for m in model.modules()}]


@torch.no_grad()
def probe(model_name: str, model_args: dict) -> list[float]:
    """The model's logits for a fixed input from a fixed initialisation: evaluation mode, then training
    mode with seeded dropout (batch norm then uses the probe batch's statistics), rounded to 6 digits."""
    from .models import build_model

    threads = torch.get_num_threads()
    rng_state = torch.get_rng_state()
    try:
        torch.manual_seed(0)
        model = build_model(model_name, **model_args)
        x = torch.randn(PROBE_IMAGES, 1, 28, 28, generator=torch.Generator().manual_seed(0))
        outputs = [model.eval()(x)]
        torch.manual_seed(1)
        outputs.append(model.train()(x))
    finally:
        torch.set_rng_state(rng_state)
        torch.set_num_threads(threads)
    values = torch.cat([o.float().flatten() for o in outputs]).tolist()
    return [float(f"{v:.6g}") for v in values]


def _model_fingerprint(model_name: str, model_args_json: str) -> dict:
    import json

    from .models import build_model

    args = json.loads(model_args_json)
    model = build_model(model_name, **args)
    return {"code": code_hashes(model_roots(model, model_name), within=f"{PACKAGE}.models"),
            "probe": probe(model_name, args)}


@functools.cache
def _cached(kind: str, name: str, args_json: str) -> str:
    import json

    if kind == "classical":
        from .classical import fit_classical

        return json.dumps({"code": code_hashes([fit_classical], within=f"{PACKAGE}.classical")})
    return json.dumps(_model_fingerprint(name, args_json))


def fingerprint(config) -> dict:
    """The current code's fingerprint for a run configuration (cached per model and arguments)."""
    import json

    from .config import ClassicalConfig, canonical_json

    if isinstance(config, ClassicalConfig):
        return json.loads(_cached("classical", config.estimator, "{}"))
    return json.loads(_cached("model", config.model, canonical_json(config.model_args)))


def code_changes(stored: dict, current: dict) -> list[str]:
    """The code of the computation that changed between a recorded fingerprint and the current one."""
    old, new = stored.get("code", {}), current.get("code", {})
    problems = []
    for name in sorted(set(old) | set(new)):
        if old.get(name) != new.get(name):
            what = "is new" if name not in old else "is gone" if name not in new else "changed"
            problems.append(f"code of {name} ({source_file(name)}) {what}")
    return problems


def probe_changes(stored: dict, current: dict) -> list[str]:
    """The model's outputs on the probe input, where they no longer match the recorded ones (empty for a
    classical run, which has no probe)."""
    if "probe" not in current:
        return []
    a, b = np.asarray(stored.get("probe", []), float), np.asarray(current["probe"], float)
    if a.shape == b.shape and np.allclose(a, b, rtol=PROBE_RTOL, atol=PROBE_ATOL):
        return []
    worst = float(np.max(np.abs(a - b))) if a.shape == b.shape else float("nan")
    return [f"the model's outputs on the probe input changed (largest difference {worst:.3g}): "
            "it no longer computes what the stored run was trained with"]


def check(stored: dict | None, current: dict) -> list[str]:
    """What differs between a run's recorded fingerprint and the current code's; empty when they agree."""
    if not stored:
        return ["no fingerprint recorded: nothing ties it to the code that made it; delete the entry and train it "
                "again"]
    return code_changes(stored, current) + probe_changes(stored, current)


def probe_agrees(stored: dict | None, current: dict) -> bool:
    """True when a model's recorded and current probe outputs match, so a change of its code hashes is a
    refactor. False without a probe on both sides: a classical run's code change may change its numbers, and
    nothing short of refitting it can tell."""
    return bool(stored) and "probe" in stored and "probe" in current and not probe_changes(stored, current)
