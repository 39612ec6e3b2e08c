"""The package's imports form layers: no import cycle, no arrow from a lower layer to a higher one.

Read from the source with ``ast`` (nothing is imported), counting every import, including those
inside functions. A module may import modules of its own layer's package and of lower layers.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "stylenorm"

#: Bottom to top. Each entry: the top-level modules and subpackages of ``stylenorm`` on that layer.
LAYERS = (
    {"cores", "safe_load", "atomic_files", "tensorboard_link"},  # plain helpers
    {"speed", "checkpoint_io"},
    {"nn"},  # the norm factory and blocks
    {"networks"},  # plain nn.Modules, VGG included
    {"losses"},  # take networks (VGG) as arguments
    {"data"},
    {"callbacks", "tasks"},  # LightningModules and callbacks
    {"config_checks"},
    {"resume", "run_record", "run_folder", "metrics_csv", "sweep_summary", "protocol"},  # a training run's machinery
    {"inference"},
    {"report"},
    {"train"},  # one run of python train.py
    {"demo"},  # the demo trains example checkpoints through train
    {"__init__"},  # `import stylenorm` re-exports the inference API
)
LAYER_OF = {name: index for index, names in enumerate(LAYERS) for name in names}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, dict[str, int]]:
    """``{module: {imported stylenorm module: first line}}`` for every module of the package."""
    modules = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: dict[str, int] = {}
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                # `from pkg import sub` imports the module pkg.sub when there is one.
                found = [base, *(f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in modules)]
            else:
                continue
            for target in found:
                while target and target not in modules:  # `import stylenorm.nn.norm.x` -> the module part
                    target = target.rpartition(".")[0]
                if target.startswith("stylenorm") and target != name:
                    targets.setdefault(target, node.lineno)
        graph[name] = targets
    return graph


def layer(module: str) -> int:
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else "__init__"
    if top not in LAYER_OF:
        raise AssertionError(f"{module} is on no layer: add stylenorm.{top} to LAYERS in {Path(__file__).name}.")
    return LAYER_OF[top]


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph.get(node, {}):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


@pytest.fixture(scope="module")
def graph():
    return import_graph()


def test_the_package_has_no_import_cycles(graph):
    loops = cycles(graph)
    assert not loops, "Import cycles:\n" + "\n".join(" <-> ".join(loop) for loop in loops)


def test_no_import_runs_back_up_the_layers(graph):
    upward = [
        f"{module}: line {line} imports {target} (layer {layer(target)} above its own {layer(module)})"
        for module, targets in graph.items()
        for target, line in targets.items()
        if layer(target) > layer(module)
    ]
    assert not upward, "Imports that run back up the layers (see LAYERS):\n" + "\n".join(upward)


def test_the_check_sees_a_cycle_and_an_upward_arrow():
    loop = {"stylenorm.nn.a": {"stylenorm.nn.b": 1}, "stylenorm.nn.b": {"stylenorm.nn.a": 1}}
    assert cycles(loop) == [["stylenorm.nn.a", "stylenorm.nn.b"]]
    assert layer("stylenorm.networks.vgg") > layer("stylenorm.nn.norm")
    assert layer("stylenorm.demo.page") > layer("stylenorm.train") > layer("stylenorm.report.cli")
