"""Read string data out of a study's Python source with `ast`, never importing or running it.

The studies keep their prompt wording inside functions: lists of f-strings, string constants
joined with `+`, dict literals. These helpers turn such expressions into templates with named
fields ("{input}"), so the wording can be kept as data while the code itself stays outside the
project (one study is GPL-3.0, the other has no licence).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from core.errors import UserError


class StudyCodeError(UserError):
    """A study source file lacks the shape the derivation expects."""


class StudySource:
    """One parsed source file, named by its path for error messages."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        try:
            self.tree = ast.parse(text, filename=path)
        except SyntaxError as exc:
            raise StudyCodeError(f"{path} is not valid Python ({exc.msg}, line {exc.lineno}); "
                                 "fetch it again") from exc

    def fail(self, what: str) -> StudyCodeError:
        return StudyCodeError(f"{self.path}: {what}; the study's code changed, so its templates "
                              "cannot be derived (check the pinned commit in Data/manifest.json)")

    def function(self, name: str) -> ast.FunctionDef:
        for node in ast.walk(self.tree):
            if isinstance(node, ast.FunctionDef) and node.name == name:
                return node
        raise self.fail(f"no function {name}()")

    def assignment(self, scope: ast.AST, name: str, where: str) -> ast.expr:
        """The value of the first `name = ...` inside scope (a function or the module)."""
        for node in _walk_in_order(scope):
            if isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == name for t in node.targets):
                return node.value
        raise self.fail(f"no assignment to '{name}' in {where}")

    def string_list(self, scope: ast.AST, name: str, where: str) -> list[str]:
        """`name = [f"...", "...", ...]` inside scope, as templates."""
        value = self.assignment(scope, name, where)
        if not isinstance(value, ast.List | ast.Tuple):
            raise self.fail(f"'{name}' in {where} is not a list of strings")
        return [self.template(item, f"{where}, '{name}'") for item in value.elts]

    def template(self, node: ast.expr, where: str, names: dict[str, str] | None = None) -> str:
        """A string expression as a template: f-string fields become "{field}".

        names: local variables holding plain strings, substituted where they are used.
        Literal braces of an f-string are doubled so the template formats back to them;
        a plain string is literal text and is returned as written.
        """
        names = names or {}
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.JoinedStr):
            parts = []
            for value in node.values:
                if isinstance(value, ast.Constant):
                    parts.append(str(value.value).replace("{", "{{").replace("}", "}}"))
                elif (isinstance(value, ast.FormattedValue) and isinstance(value.value, ast.Name)
                      and value.conversion == -1 and value.format_spec is None):
                    parts.append("{" + value.value.id + "}")
                else:
                    raise self.fail(f"an f-string field in {where} (line {node.lineno}) is not "
                                    "a plain name")
            return "".join(parts)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return (self.template(node.left, where, names)
                    + self.template(node.right, where, names))
        if isinstance(node, ast.Name) and node.id in names:
            return names[node.id]
        raise self.fail(f"{where} (line {getattr(node, 'lineno', '?')}) is not a string "
                        "literal, f-string or sum of them")

    def literal(self, node: ast.expr, where: str) -> object:
        """A literal (list, dict, numbers, strings) as its Python value."""
        try:
            return ast.literal_eval(node)
        except ValueError as exc:
            raise self.fail(f"{where} (line {node.lineno}) is not a literal") from exc

    def main_block(self) -> ast.If:
        """The `if __name__ == "__main__":` block, where the scripts keep their data."""
        for node in self.tree.body:
            if (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
                    and isinstance(node.test.left, ast.Name)
                    and node.test.left.id == "__name__"):
                return node
        raise self.fail("no `if __name__ == \"__main__\":` block")

    def calls(self, scope: ast.AST, name: str) -> list[ast.Call]:
        """Every call of the function `name` inside scope, in source order."""
        found = [n for n in _walk_in_order(scope) if isinstance(n, ast.Call)
                 and isinstance(n.func, ast.Name) and n.func.id == name]
        if not found:
            raise self.fail(f"no call of {name}()")
        return found


def _walk_in_order(scope: ast.AST) -> Iterator[ast.AST]:
    """ast.walk, but in source order (ast.walk is breadth-first)."""
    nodes = [n for n in ast.walk(scope) if hasattr(n, "lineno")]
    yield from sorted(nodes, key=lambda n: (n.lineno, n.col_offset))
