"""The design's size limits: modules ≤ 250 lines, functions ≤ 60 lines, in helpers/."""

import ast

import pytest

from .conftest import REPO

MODULES = sorted((REPO / "helpers").rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(REPO)))
def test_module_and_function_sizes(path):
    source = path.read_text()
    assert len(source.splitlines()) <= 250, f"{path.name}: over 250 lines"
    long = [f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.end_lineno - node.lineno + 1 > 60]
    assert not long, f"{path.name}: functions over 60 lines: {long}"
