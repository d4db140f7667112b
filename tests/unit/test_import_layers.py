"""The house rule on imports: nothing outside plugins/modules imports a module file, and the
argument specs (and node_uri) load without libvirt or lxml, so the API and the controller can use them."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COLLECTIONS = ROOT / "collections"
MODULES_DIR = COLLECTIONS / "ansible_collections" / "vmm" / "cloud" / "plugins" / "modules"
MODULES_PACKAGE = "ansible_collections.vmm.cloud.plugins.modules"
SKIPPED_DIRS = {".git", ".venv", ".ansible", "output", "__pycache__", ".pytest_cache", ".ruff_cache"}


def _is_modules(name):
    return name == MODULES_PACKAGE or name.startswith(MODULES_PACKAGE + ".")


def _package_of(path):
    """The dotted package a file under collections/ lives in, for its relative imports; None elsewhere."""
    try:
        parts = path.relative_to(COLLECTIONS).parent.parts
    except ValueError:
        return None
    return ".".join(parts)


def module_file_imports(source, package=None):
    """The imports in `source` that reach a file of plugins/modules, as dotted names."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names if _is_modules(alias.name))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                if package is None:
                    continue
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.extend(f"{base}.{alias.name}" for alias in node.names
                         if _is_modules(base) or _is_modules(f"{base}.{alias.name}"))
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str) and _is_modules(node.args[0].value)
              and getattr(node.func, "attr", getattr(node.func, "id", None)) in ("import_module", "__import__")):
            found.append(node.args[0].value)
    return found


def python_files():
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT)
        if SKIPPED_DIRS.intersection(relative.parts[:-1]) or MODULES_DIR in path.parents:
            continue
        yield path


@pytest.mark.parametrize("source, package, expected", [
    ("from ansible_collections.vmm.cloud.plugins.modules import vm", None,
     ["ansible_collections.vmm.cloud.plugins.modules.vm"]),
    ("from ansible_collections.vmm.cloud.plugins.modules.placement import ARGUMENT_SPEC", None,
     ["ansible_collections.vmm.cloud.plugins.modules.placement.ARGUMENT_SPEC"]),
    ("import ansible_collections.vmm.cloud.plugins.modules.vm as vm", None,
     ["ansible_collections.vmm.cloud.plugins.modules.vm"]),
    ("from ansible_collections.vmm.cloud.plugins import modules", None,
     ["ansible_collections.vmm.cloud.plugins.modules"]),
    ("def f():\n    from ansible_collections.vmm.cloud.plugins.modules import vm_info", None,
     ["ansible_collections.vmm.cloud.plugins.modules.vm_info"]),
    ("from ..modules.placement import ARGUMENT_SPEC", "ansible_collections.vmm.cloud.plugins.action",
     ["ansible_collections.vmm.cloud.plugins.modules.placement.ARGUMENT_SPEC"]),
    ("from .. import modules", "ansible_collections.vmm.cloud.plugins.action",
     ["ansible_collections.vmm.cloud.plugins.modules"]),
    ("importlib.import_module('ansible_collections.vmm.cloud.plugins.modules.vm')", None,
     ["ansible_collections.vmm.cloud.plugins.modules.vm"]),
    ("from ansible_collections.vmm.cloud.plugins.module_utils.argument_specs import VM_SPEC", None, []),
    ("from ansible_collections.vmm.cloud.plugins.module_utils import module_runner", None, []),
    ("from ..module_utils.placement import place", "ansible_collections.vmm.cloud.plugins.action", []),
    ("from .runner import BIN", None, []),
    ("import ansible_collections.vmm.cloud.plugins.modules_extra", None, []),
])
def test_module_file_imports_are_found(source, package, expected):
    assert module_file_imports(source, package) == expected


def test_the_scan_covers_the_repository():
    scanned = {path.relative_to(ROOT).as_posix() for path in python_files()}
    for expected in ("api/schemas.py", "api/nodes.py", "bench/vm_create.py", "scripts/ansible-test-get-pip.py",
                     "tests/unit/test_import_layers.py",
                     "collections/ansible_collections/vmm/cloud/plugins/action/placement.py",
                     "collections/ansible_collections/vmm/cloud/plugins/inventory/libvirt.py",
                     "collections/ansible_collections/vmm/cloud/plugins/filter/heal.py",
                     "collections/ansible_collections/vmm/cloud/plugins/module_utils/argument_specs.py"):
        assert expected in scanned
    assert not any(name.startswith("collections/ansible_collections/vmm/cloud/plugins/modules/") for name in scanned)


def test_nothing_outside_plugins_modules_imports_a_module_file():
    offenders = {}
    for path in python_files():
        found = module_file_imports(path.read_text(encoding="utf-8"), _package_of(path))
        if found:
            offenders[path.relative_to(ROOT).as_posix()] = found
    assert offenders == {}, f"import a module file (use module_utils instead): {offenders}"


def imported_by(module):
    """Top-level names of the packages a fresh interpreter loads to import `module`."""
    code = ("import sys; before = set(sys.modules); import importlib; importlib.import_module(sys.argv[1]); "
            "print('\\n'.join(sorted({name.split('.')[0] for name in set(sys.modules) - before})))")
    done = subprocess.run([sys.executable, "-c", code, module], cwd=ROOT, env={"PYTHONPATH": str(COLLECTIONS)},
                          capture_output=True, text=True, check=True)
    return set(done.stdout.split())


@pytest.mark.parametrize("module", [
    "ansible_collections.vmm.cloud.plugins.module_utils.argument_specs",
    "ansible_collections.vmm.cloud.plugins.module_utils.node_uri",
    "ansible_collections.vmm.cloud.plugins.module_utils.ip_pools",  # the API's pools report uses it
])
def test_loads_without_libvirt_or_lxml(module):
    loaded = imported_by(module)
    assert "libvirt" not in loaded and "lxml" not in loaded
    assert loaded - set(sys.stdlib_module_names) == {"ansible_collections"}  # nothing but the standard library


def test_the_check_sees_libvirt_when_it_is_imported():
    assert "libvirt" in imported_by("ansible_collections.vmm.cloud.plugins.module_utils.libvirt_client")
