"""Load packaging/ files by path: that folder is no Python package (`packaging` is a PyPI name)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

PACKAGING = Path(__file__).resolve().parents[2] / "packaging"


def load_packaging_module(filename: str) -> ModuleType:
    name = "tandem_packaging_" + Path(filename).stem
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, PACKAGING / filename)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def bundle_config() -> ModuleType:
    return load_packaging_module("bundle_config.py")


@pytest.fixture(scope="session")
def bundle_entry() -> ModuleType:
    return load_packaging_module("entry.py")
