"""Safe formulas for agreements: a small closed language, exact decimal arithmetic, no `eval`.

A formula is an expression over named company figures, written with Python's expression syntax and parsed by
Python's own `ast` parser, then evaluated by the whitelist below. Number literals are read from their source
text as exact Decimals (0.05 is exactly 5/100). Anything outside the grammar (attribute access, subscripts,
lambdas, comprehensions, `**`, strings, unknown names or functions) is refused when the formula is loaded.

    max(0, 0.05 * rcai - rsp)
    brackets(rcai, [[0, 0], [50000, 0.10], [150000, 0.15]])
    step(frais_personnel / valeur_ajoutee, [[0, 0.04], [0.38, 0.02], [0.42, 0.01]]) * payroll
    0.2 * achievement(taux_service, 0.80, 0.90) * rcai
    0.03 * above(chiffre_affaires, prior(chiffre_affaires) * 1.02)

Functions: min, max, abs, clip(x, lo, hi), pct(p) (p/100), above(x, threshold) (max(0, x - threshold)),
brackets(x, table) (marginal rates by tranche), step(x, table) (the value of the highest row whose lower bound
x reaches), achievement(actual, threshold, target) (0..1, linear; decreasing objectives when target < threshold),
weighted(table) (sum of weight x value), prior(figure, n=1) (the figure n periods earlier),
progress(figure) ((x - prior(x)) / prior(x)).
"""

from __future__ import annotations

import ast
import difflib
import itertools
import re
import warnings
from collections.abc import Callable, Iterable, Mapping
from decimal import Context, Decimal, DivisionByZero, InvalidOperation, Overflow, localcontext
from typing import Any

from attrs import frozen

MAX_SOURCE = 4000
MAX_NODES = 400
MAX_DEPTH = 32
MAX_DIGITS = 24
MAX_MAGNITUDE = Decimal(10) ** 18
PROBE = Decimal(10) ** 15 - 1  # the largest figure an event or a configuration may hold (paybonus.convert)
PARSED_KEPT = 4096  # distinct (formula, names) kept parsed (`Formula.parse`)
_PARSED: dict[tuple[str, frozenset[str]], Formula] = {}
CONTEXT = Context(prec=40, Emax=60, Emin=-60, traps=[InvalidOperation, DivisionByZero, Overflow])


class FormulaError(ValueError):
    """A formula that cannot be loaded or evaluated; the message says where and why."""


Number = Decimal
Value = Decimal | bool | list[Any]

_FUNCTIONS: dict[str, tuple[int, int]] = {  # name -> (min args, max args); -1 = any
    "min": (2, -1),
    "max": (2, -1),
    "abs": (1, 1),
    "clip": (3, 3),
    "pct": (1, 1),
    "above": (2, 2),
    "brackets": (2, 2),
    "step": (2, 2),
    "achievement": (3, 3),
    "weighted": (1, 1),
    "prior": (1, 2),
    "progress": (1, 1),
}
_BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.Div)
_CMPOPS = (ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq)


@frozen
class Formula:
    """A parsed, checked formula. `names` are the figures it reads; `prior_names` those it reads from earlier periods."""

    source: str
    names: frozenset[str]
    prior_names: frozenset[str]
    max_prior: int
    tree: ast.Expression

    @classmethod
    def parse(cls, source: str, known: Iterable[str]) -> Formula:
        """Parse and check `source` against the known figure names. Raises FormulaError. A formula is a value:
        the same text and names give the same formula, parsed once (a vendor's companies share their plans'
        formulas; each company's configuration is structured once, and parsed its formulas again)."""
        if not isinstance(source, str):
            raise FormulaError("empty formula")
        key = (source, frozenset(known))
        formula = _PARSED.get(key)
        if formula is None:
            formula = cls._parse(source, key[1])  # a refused formula raises: never kept
            if len(_PARSED) >= PARSED_KEPT:
                _PARSED.clear()  # rare: more distinct formulas than a vendor's plans hold
            _PARSED[key] = formula
        return formula

    @classmethod
    def _parse(cls, source: str, known: frozenset[str]) -> Formula:
        if not source.strip():
            raise FormulaError("empty formula")
        if len(source) > MAX_SOURCE:
            raise FormulaError(f"formula longer than {MAX_SOURCE} characters")
        if "#" in source:  # the lines are joined before parsing: a comment would silently drop what follows
            raise FormulaError("a formula has no comments: write them in the TOML, outside the string")
        text = " ".join(source.split())  # formulas may span lines in TOML
        try:
            with warnings.catch_warnings():
                warnings.simplefilter(
                    "error", SyntaxWarning
                )  # '1if x' parses with a warning: refuse it instead
                tree = ast.parse(text, mode="eval")
        except SyntaxWarning as exc:
            raise FormulaError(f"syntax error: {exc}") from None
        except SyntaxError as exc:
            raise FormulaError(f"syntax error at column {exc.offset}: {exc.msg}") from None
        except (ValueError, RecursionError, MemoryError):
            raise FormulaError("formula cannot be parsed") from None
        checker = _Checker(text, known)
        checker.check(tree.body, 0)
        formula = cls(text, frozenset(checker.names), frozenset(checker.prior_names), checker.max_prior, tree)
        formula._probe()
        return formula

    def _probe(self) -> None:
        """What would only fail at compute time is refused at load: a division by a constant zero, a table of
        constant bounds that do not increase, and arithmetic that overflows for figures within the range any
        input may hold (below 10^15)."""
        for node in ast.walk(self.tree):
            if (
                isinstance(node, ast.BinOp)
                and isinstance(node.op, ast.Div)
                and not any(isinstance(n, ast.Name) for n in ast.walk(node.right))
            ):
                with localcontext(CONTEXT):
                    try:
                        zero = _Evaluator(self.source, {}, None).eval(node.right) == 0
                    except (FormulaError, InvalidOperation, DivisionByZero, Overflow):
                        zero = True
                if zero:
                    seg = ast.get_source_segment(self.source, node)
                    raise FormulaError(f"division by zero in {seg!r}")
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("brackets", "step")
                and not any(isinstance(n, ast.Name) for n in ast.walk(node.args[-1]))
            ):  # a table of constants: its bounds do not depend on the figures
                ev = _Evaluator(self.source, {}, None)
                with localcontext(CONTEXT):
                    try:
                        bounds = ev.eval(node.args[-1])
                    except (FormulaError, InvalidOperation, DivisionByZero, Overflow):
                        continue  # refused at compute time, with the figures
                ev.table(bounds, node.func.id, sorted_bounds=True)
        for sign in (1, -1):
            big = Decimal(sign) * PROBE
            ev = _Evaluator(self.source, dict.fromkeys(self.names, big), _constant(big))
            with localcontext(CONTEXT):
                try:
                    ev.eval(self.tree.body)
                except (Overflow, InvalidOperation):
                    raise FormulaError(
                        "the formula overflows for figures near 10^15 (the largest any input may hold)"
                    ) from None
                except (FormulaError, DivisionByZero):
                    pass

    def evaluate(
        self, figures: Mapping[str, Decimal], prior: Callable[[str, int], Decimal] | None = None
    ) -> tuple[Decimal, list[str]]:
        """Value of the formula and a trace of the functions it applied. Raises FormulaError."""
        ev = _Evaluator(self.source, figures, prior)
        with localcontext(CONTEXT):
            try:
                value = ev.eval(self.tree.body)
            except (InvalidOperation, DivisionByZero, Overflow) as exc:
                raise FormulaError(f"arithmetic error ({type(exc).__name__}) in {self.source!r}") from None
        if not isinstance(value, Decimal):
            raise FormulaError("the formula gives a condition or a table, not an amount")
        if abs(value) >= MAX_MAGNITUDE:
            raise FormulaError("the formula gives an amount beyond 10^18")
        return value, ev.trace


def _constant(value: Decimal) -> Callable[[str, int], Decimal]:
    """A `prior` that gives `value` for every figure and period (the load-time probe)."""

    def prior(_name: str, _n: int) -> Decimal:
        return value

    return prior


class _Checker:
    def __init__(self, source: str, known: frozenset[str]) -> None:
        self.source = source
        self.known = known
        self.names: set[str] = set()
        self.prior_names: set[str] = set()
        self.max_prior = 0
        self.count = 0

    def fail(self, node: ast.AST, what: str) -> FormulaError:
        col = getattr(node, "col_offset", None)
        return FormulaError(f"{what} (column {col + 1})" if col is not None else what)

    def check(self, node: ast.AST, depth: int) -> None:
        self.count += 1
        if self.count > MAX_NODES:
            raise FormulaError(f"formula too long (more than {MAX_NODES} elements)")
        if depth > MAX_DEPTH:
            raise FormulaError(f"formula nested too deeply (more than {MAX_DEPTH} levels)")
        d = depth + 1
        if isinstance(node, ast.Constant):
            v = node.value
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise self.fail(node, f"only numbers may be written as values, not {v!r}")
            text = ast.get_source_segment(self.source, node) or str(v)
            if sum(ch.isdigit() for ch in text) > MAX_DIGITS or "e" in text.lower():
                raise self.fail(node, "number literal too long (write plain decimals, at most 24 digits)")
            if not re.fullmatch(r"[0-9_]*\.?[0-9_]*", text):  # 0x1F, 0o7, 0b1: Python, not a decimal
                raise self.fail(node, f"{text!r} is not a decimal number (write digits with a dot)")
            node.paybonus_value = Decimal(text.replace("_", ""))  # type: ignore[attr-defined]  # exact, read once
        elif isinstance(node, ast.Name):
            if node.id in _FUNCTIONS:
                raise self.fail(node, f"{node.id} is a function: call it as {node.id}(...)")
            if node.id not in self.known:
                close = difflib.get_close_matches(node.id, sorted(self.known), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise self.fail(node, f"unknown figure {node.id!r}{hint}")
            self.names.add(node.id)
        elif isinstance(node, ast.BinOp):
            if not isinstance(node.op, _BINOPS):
                raise self.fail(node, f"operator {type(node.op).__name__} is not allowed (use + - * /)")
            self.check(node.left, d)
            self.check(node.right, d)
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, ast.USub | ast.UAdd | ast.Not):
                raise self.fail(node, "operator not allowed")
            self.check(node.operand, d)
        elif isinstance(node, ast.Compare):
            if not all(isinstance(op, _CMPOPS) for op in node.ops):
                raise self.fail(node, "comparison not allowed (use < <= > >= == !=)")
            for n in (node.left, *node.comparators):
                self.check(n, d)
        elif isinstance(node, ast.BoolOp):
            for n in node.values:
                self.check(n, d)
        elif isinstance(node, ast.IfExp):
            for n in (node.test, node.body, node.orelse):
                self.check(n, d)
        elif isinstance(node, ast.List | ast.Tuple):
            for n in node.elts:
                self.check(n, d)
        elif isinstance(node, ast.Call):
            self._check_call(node, d)
        else:
            raise self.fail(node, f"{type(node).__name__.lower()} is not allowed in a formula")

    def _check_call(self, node: ast.Call, d: int) -> None:
        if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS:
            name = node.func.id if isinstance(node.func, ast.Name) else "this call"
            raise self.fail(node, f"unknown function {name!r} (known: {', '.join(sorted(_FUNCTIONS))})")
        if node.keywords:
            raise self.fail(node, "keyword arguments are not allowed")
        fn = node.func.id
        lo, hi = _FUNCTIONS[fn]
        n = len(node.args)
        if n < lo or (hi != -1 and n > hi):
            expected = str(lo) if lo == hi else f"{lo} or more" if hi == -1 else f"{lo} to {hi}"
            raise self.fail(node, f"{fn} takes {expected} arguments, got {n}")
        if fn in ("prior", "progress"):
            arg = node.args[0]
            if not isinstance(arg, ast.Name) or arg.id not in self.known:
                raise self.fail(node, f"{fn} takes a figure name, e.g. {fn}(chiffre_affaires)")
            nth = 1
            if len(node.args) == 2:
                k = node.args[1]
                if not (isinstance(k, ast.Constant) and type(k.value) is int and 1 <= k.value <= 10):
                    raise self.fail(node, "prior's second argument is a whole number of periods, 1 to 10")
                nth = k.value
            self.prior_names.add(arg.id)
            self.max_prior = max(self.max_prior, nth)
            if fn == "progress":
                self.names.add(arg.id)
            return
        if fn in ("brackets", "step", "weighted"):
            table = node.args[-1]
            if (
                not isinstance(table, ast.List | ast.Tuple)
                or not table.elts
                or not all(isinstance(r, ast.List | ast.Tuple) and len(r.elts) == 2 for r in table.elts)
            ):
                raise self.fail(
                    node, f"{fn} needs a table of [bound, value] rows, e.g. [[0, 0], [50000, 0.1]]"
                )
        for a in node.args:
            self.check(a, d)


class _Evaluator:
    def __init__(
        self, source: str, figures: Mapping[str, Decimal], prior: Callable[[str, int], Decimal] | None
    ) -> None:
        self.source = source
        self.figures = figures
        self.prior = prior
        self.trace: list[str] = []

    def num(self, v: Any, where: str) -> Decimal:
        if isinstance(v, bool) or not isinstance(v, Decimal):
            raise FormulaError(f"{where}: expected a number")
        return v

    def eval(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            return node.paybonus_value  # type: ignore[attr-defined]
        if isinstance(node, ast.Name):
            if node.id not in self.figures:
                raise FormulaError(f"figure {node.id!r} is missing from the published results")
            return self.figures[node.id]
        if isinstance(node, ast.BinOp):
            a, b = (
                self.num(self.eval(node.left), "left operand"),
                self.num(self.eval(node.right), "right operand"),
            )
            if isinstance(node.op, ast.Add):
                return a + b
            if isinstance(node.op, ast.Sub):
                return a - b
            if isinstance(node.op, ast.Mult):
                return a * b
            if b == 0:
                seg = ast.get_source_segment(self.source, node)
                raise FormulaError(f"division by zero in {seg!r}")
            return a / b
        if isinstance(node, ast.UnaryOp):
            v = self.eval(node.operand)
            if isinstance(node.op, ast.Not):
                return not v
            return -self.num(v, "operand") if isinstance(node.op, ast.USub) else self.num(v, "operand")
        if isinstance(node, ast.Compare):
            left = self.num(self.eval(node.left), "comparison")
            for op, right_node in zip(node.ops, node.comparators, strict=True):
                right = self.num(self.eval(right_node), "comparison")
                ok = {
                    ast.Lt: left < right,
                    ast.LtE: left <= right,
                    ast.Gt: left > right,
                    ast.GtE: left >= right,
                    ast.Eq: left == right,
                    ast.NotEq: left != right,
                }[type(op)]
                if not ok:
                    return False
                left = right
            return True
        if isinstance(node, ast.BoolOp):
            if isinstance(node.op, ast.And):
                return all(bool(self.eval(v)) for v in node.values)
            return any(bool(self.eval(v)) for v in node.values)
        if isinstance(node, ast.IfExp):
            return self.eval(node.body) if self.eval(node.test) else self.eval(node.orelse)
        if isinstance(node, ast.List | ast.Tuple):
            return [self.eval(e) for e in node.elts]
        if isinstance(node, ast.Call):
            return self.call(node)
        raise FormulaError(
            f"{type(node).__name__} is not allowed"
        )  # pragma: no cover - the checker refused it

    def call(self, node: ast.Call) -> Decimal:
        assert isinstance(node.func, ast.Name)
        fn = node.func.id
        if fn in ("prior", "progress"):
            assert isinstance(node.args[0], ast.Name)
            name = node.args[0].id
            nth = 1 if len(node.args) == 1 else int(node.args[1].value)  # type: ignore[attr-defined]
            if self.prior is None:
                raise FormulaError(f"{fn}({name}) needs the results of earlier periods")
            before = self.prior(name, nth)
            if fn == "prior":
                value = before
            else:
                if before == 0:
                    raise FormulaError(f"progress({name}): the earlier value is zero")
                value = (self.num(self.eval(node.args[0]), name) - before) / before
            self.trace.append(f"{fn}({name}{'' if nth == 1 else f', {nth}'}) = {_fmt(value)}")
            return value
        args = [self.eval(a) for a in node.args]
        value = self.apply(fn, args)
        shown = ", ".join(_fmt(a) if isinstance(a, Decimal) else "[...]" for a in args)
        self.trace.append(f"{fn}({shown}) = {_fmt(value)}")
        return value

    def apply(self, fn: str, args: list[Any]) -> Decimal:
        if fn in ("min", "max"):
            nums = [self.num(a, fn) for a in args]
            return min(nums) if fn == "min" else max(nums)
        if fn == "abs":
            return abs(self.num(args[0], fn))
        if fn == "clip":
            x, lo, hi = (self.num(a, fn) for a in args)
            if lo > hi:
                raise FormulaError(f"clip: lower bound {lo} above upper bound {hi}")
            return min(max(x, lo), hi)
        if fn == "pct":
            return self.num(args[0], fn) / 100
        if fn == "above":
            x, t = self.num(args[0], fn), self.num(args[1], fn)
            return max(Decimal(0), x - t)
        if fn == "achievement":
            actual, threshold, target = (self.num(a, fn) for a in args)
            if threshold == target:
                raise FormulaError("achievement: threshold and target must differ")
            return min(Decimal(1), max(Decimal(0), (actual - threshold) / (target - threshold)))
        if fn == "weighted":
            rows = self.table(args[0], fn, sorted_bounds=False)
            return sum((w * v for w, v in rows), Decimal(0))
        x = self.num(args[0], fn)
        rows = self.table(args[1], fn, sorted_bounds=True)
        if fn == "step":
            value = Decimal(0)
            for lower, v in rows:
                if x >= lower:
                    value = v
            return value
        # brackets: marginal rate on each tranche of x
        total = Decimal(0)
        for i, (lower, rate) in enumerate(rows):
            upper = rows[i + 1][0] if i + 1 < len(rows) else None
            part = (min(x, upper) if upper is not None else x) - lower
            if part > 0:
                total += part * rate
        return total

    def table(self, raw: Any, fn: str, sorted_bounds: bool) -> list[tuple[Decimal, Decimal]]:
        rows = [(self.num(r[0], fn), self.num(r[1], fn)) for r in raw]
        if sorted_bounds and any(a[0] >= b[0] for a, b in itertools.pairwise(rows)):
            raise FormulaError(f"{fn}: the bounds of the table must increase")
        return rows


def _fmt(v: Any) -> str:
    return format(v.normalize(), "f") if isinstance(v, Decimal) else str(v)
