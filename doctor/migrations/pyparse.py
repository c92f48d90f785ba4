"""Parse the checkout's Python source whatever Python it was written for.

The doctor's own ``ast`` knows only its Python's grammar, and a checkout may already use newer syntax
(PEP 701 f-strings nested in the same quotes, PEP 695 ``class A[T]`` and ``type X = ...``, PEP 750
t-strings). What ``ast`` rejects is parsed with libcst, which knows every grammar, and handed back as
an ``ast`` tree of the same lines with each construct the old grammar lacks replaced by a call to
``__computed__()``: a value known only at run time, which every reader already says it cannot know.
"""

from __future__ import annotations

import ast
import sys

NEWER = "__computed__"
RUNNING = f"{sys.version_info.major}.{sys.version_info.minor}"


def parse(source: str, filename: str = "<unknown>") -> ast.Module:
    """``ast.parse``; for source it rejects, libcst's reading of it (see the module docstring). The
    original SyntaxError when neither reads it, with a note when libcst does not either."""
    try:
        return ast.parse(source, filename=filename)
    except SyntaxError:
        tree = _newer(source, filename)
        if tree is None:
            raise
        return tree


def _newer(source: str, filename: str) -> ast.Module | None:
    try:
        import libcst as cst
    except ImportError:  # pragma: no cover - a dependency; an install without it reads what ast reads
        return None
    try:
        module = cst.parse_module(source)
    except Exception:  # libcst's ParserSyntaxError and friends: not Python in any grammar
        return None

    def computed(node: cst.CSTNode) -> cst.BaseExpression:
        lines = module.code_for_node(node).count("\n")
        return cst.parse_expression(f"{NEWER}({chr(34) * 3}{chr(10) * lines}{chr(34) * 3})" if lines
                                    else f"{NEWER}()")

    class Older(cst.CSTTransformer):
        def leave_FormattedString(self, original, updated):  # libcst names its visitor methods so
            try:
                ast.parse(module.code_for_node(original), mode="eval")
                return updated
            except SyntaxError:
                return computed(original)

        def leave_TemplatedString(self, original, updated):
            return computed(original)

        def leave_ClassDef(self, original, updated):
            return updated.with_changes(type_parameters=None) if updated.type_parameters else updated

        def leave_FunctionDef(self, original, updated):
            return updated.with_changes(type_parameters=None) if updated.type_parameters else updated

        def leave_TypeAlias(self, original, updated):
            return cst.Assign([cst.AssignTarget(updated.name)], cst.parse_expression(f"{NEWER}()"))

    try:
        code = module.visit(Older()).code
        return ast.parse(code, filename=filename)
    except Exception:  # a construct this downgrade does not know yet: ast's own error stands
        return None
