"""The lint and format checks run with the suite, so CI fails on either; and vendor
SDKs stay inside their adapter modules in futureself/providers."""

import ast
import subprocess
import sys
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROVIDERS = ROOT / "futureself" / "providers"
# Top-level modules of the vendor SDKs; google-genai lives in the "google" namespace.
VENDOR_MODULES = ("mistralai", "elevenlabs", "google.genai")


@pytest.mark.parametrize("args", [["check", "."], ["format", "--check", "."]], ids=["lint", "format"])
def test_ruff_is_clean(args):
    result = subprocess.run(
        [sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _is_vendor(module: str) -> bool:
    return any(module == vendor or module.startswith(vendor + ".") for vendor in VENDOR_MODULES)


def vendor_imports(source: str) -> list[str]:
    """Every vendor SDK module ``source`` imports, whatever the form (also inside functions,
    ``if TYPE_CHECKING:`` blocks and ``importlib.import_module("...")`` with a literal name)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if _is_vendor(alias.name)]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # "from google import genai" names the SDK in the imported names, not the module.
            candidates = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            found += sorted({c for c in candidates if _is_vendor(c)})[:1]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            function = node.func
            name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
            target = node.args[0].value
            if name in ("import_module", "__import__") and isinstance(target, str) and _is_vendor(target):
                found.append(target)
    return found


def app_packages() -> list[Path]:
    """The packages the project ships (pyproject's setuptools ``include`` patterns)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["packages"]["find"]["include"]
    return sorted(
        path.parent
        for path in ROOT.glob("*/__init__.py")
        if any(fnmatch(path.parent.name, pattern) for pattern in patterns)
    )


def scanned_files() -> list[Path]:
    return [
        path
        for package in app_packages()
        for path in sorted(package.rglob("*.py"))
        if not path.is_relative_to(PROVIDERS)
    ]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import mistralai", ["mistralai"]),
        ("import mistralai.client as m", ["mistralai.client"]),
        ("from mistralai.client import Mistral, errors", ["mistralai.client"]),
        ("from elevenlabs import AsyncElevenLabs", ["elevenlabs"]),
        ("import elevenlabs.realtime", ["elevenlabs.realtime"]),
        ("from google import genai", ["google.genai"]),
        ("from google import genai as g, protobuf", ["google.genai"]),
        ("from google.genai import types, errors", ["google.genai"]),
        ("import google.genai", ["google.genai"]),
        ("def f():\n    from mistralai.client import Mistral\n", ["mistralai.client"]),
        ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import elevenlabs\n", ["elevenlabs"]),
        ("import importlib\nimportlib.import_module('google.genai')", ["google.genai"]),
        ("__import__('mistralai')", ["mistralai"]),
        ("import google.protobuf\nfrom google import auth", []),
        ("import mistralai_extras\nfrom elevenlabsish import x", []),
        ("from . import mistral\nfrom .elevenlabs import build", []),
        ("text = 'import mistralai'  # a string, not an import", []),
    ],
)
def test_the_vendor_import_finder_sees_every_import_form(source, expected):
    assert vendor_imports(source) == expected


def test_every_shipped_package_but_the_provider_layer_is_scanned():
    files = {str(path.relative_to(ROOT)) for path in scanned_files()}
    assert {"interviews", "personas", "conversations", "futureself"} <= {p.name for p in app_packages()}
    assert "futureself/safety/moderation.py" in files
    assert "futureself/api.py" in files
    assert not any(name.startswith("futureself/providers/") for name in files)


def test_no_code_outside_the_provider_layer_imports_a_vendor_sdk():
    offenders = {
        str(path.relative_to(ROOT)): found
        for path in scanned_files()
        if (found := vendor_imports(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}
