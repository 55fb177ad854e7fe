"""An agreement's formula told in plain French, and the annex's tables with the period's figures.

`sentence(formula, labels)` turns the closed formula language of `paybonus.formulas` into the end of a French
sentence ("L'intéressement global est égal à ..."):

    brackets(rcai, [[0, 0], [50000, 0.10], [150000, 0.15]])
    -> "un pourcentage du résultat courant avant impôt (RCAI), calculé par tranches : 0 % jusqu'à 50 000 €,
        10 % de 50 000 € à 150 000 €, 15 % au-delà de 150 000 €"

`tables(formula, figures, known, labels)` gives what the annex shows with the actual figures: one table per
`brackets` or `step` (each tranche, its rate, the part of the figure in it and the amount), each term of a sum
with its value, and the figures themselves. A company whose agreement words its formula differently gives those
words in `[statement.formulas]`; the tables stay.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from paybonus.formulas import Formula, FormulaError
from paybonus.french import NBSP, euros, number, percent

# figures of STANDARD_FIGURES and COMPUTED_FIGURES, with the article they take in French
LABELS: dict[str, str] = {
    "rcai": "le résultat courant avant impôt (RCAI)",
    "chiffre_affaires": "le chiffre d'affaires",
    "marge_brute": "la marge brute",
    "resultat_exploitation": "le résultat d'exploitation",
    "resultat_net": "le résultat net",
    "valeur_ajoutee": "la valeur ajoutée",
    "ebe": "l'excédent brut d'exploitation (EBE)",
    "effectif": "l'effectif",
    "frais_personnel": "les frais de personnel",
    "capitaux_propres": "les capitaux propres",
    "rsp": "la réserve spéciale de participation (RSP)",
    "payroll": "la masse salariale brute de la période",
}
# figures that are counts or ratios, not euros
NOT_EUROS = {"effectif"}


def _de(label: str) -> str:
    """'de' + article, contracted: du, de la, de l', des."""
    for art, contracted in (("le ", "du "), ("les ", "des "), ("la ", "de la "), ("l'", "de l'")):
        if label.startswith(art):
            return contracted + label[len(art) :]
    return "de " + label


class _Teller:
    def __init__(self, labels: Mapping[str, Any]) -> None:
        self.labels = dict(LABELS)
        self.units: dict[str, str] = {n: "" for n in NOT_EUROS}
        for name, v in labels.items():
            if isinstance(v, str):
                self.labels[name] = v
            else:
                self.labels[name] = v.get("label", name)
                if "unit" in v:
                    self.units[name] = v["unit"]

    def label(self, name: str) -> str:
        return self.labels.get(name, f"«{NBSP}{name.replace('_', ' ')}{NBSP}»")

    def const(self, node: ast.AST) -> Decimal | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return Decimal(ast.get_source_segment(self.src, node) or str(node.value))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            c = self.const(node.operand)
            return -c if c is not None else None
        return None

    def rate(self, node: ast.AST) -> Decimal | None:
        """A constant factor: a number, or pct(n) as the fraction n / 100 (3 % of a figure, not 3 times it)."""
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "pct" and len(node.args) == 1:
            c = self.const(node.args[0])
            return c / 100 if c is not None else None
        return self.const(node)

    def tell(self, src: str) -> str:
        self.src = src
        tree = ast.parse(src, mode="eval").body
        return self.expr(tree, amount=True)

    def expr(self, n: ast.AST, amount: bool = False) -> str:
        c = self.const(n)
        if c is not None:
            return euros(c) if amount else number(c)
        if isinstance(n, ast.Name):
            return self.label(n.id)
        if isinstance(n, ast.BinOp):
            return self.binop(n, amount)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name):
            return self.call(n.func.id, n.args, amount)
        if isinstance(n, ast.IfExp):
            return f"{self.expr(n.body, amount)} si {self.cond(n.test)}, sinon {self.expr(n.orelse, amount)}"
        return ast.unparse(n)

    def binop(self, n: ast.BinOp, amount: bool) -> str:
        left, right = n.left, n.right
        if isinstance(n.op, ast.Add):
            return f"{self.expr(left, amount)}, plus {self.expr(right, amount)}"
        if isinstance(n.op, ast.Sub):
            return f"{self.expr(left, amount)}, moins {self.expr(right, amount)}"
        if isinstance(n.op, ast.Mult):
            for k, other in ((self.rate(left), right), (self.rate(right), left)):
                if k is None:
                    continue
                if 0 < k < 1:
                    return f"{percent(k)} {_de(self.expr(other))}"
                if self.is_ratio(other):
                    return f"{euros(k)} multipliés par {self.factor(other)}"
                return f"{number(k)} fois {self.expr(other)}"
            tabled = [
                x
                for x in (left, right)
                if isinstance(x, ast.Call) and getattr(x.func, "id", "") in ("step", "brackets")
            ]
            if (
                tabled
            ):  # the table reads best last: "la masse salariale multipliée par un taux fixé selon ..."
                other = right if tabled[0] is left else left
                return f"{self.factor(other)}, multiplié par {self.factor(tabled[0])}"
            return f"{self.factor(left)} multiplié par {self.factor(right)}"
        if isinstance(n.op, ast.Div):
            return f"le rapport entre {self.expr(left)} et {self.expr(right)}"
        return ast.unparse(n)

    def factor(self, n: ast.AST) -> str:
        """An operand of a product: a nested sum or difference is named as such, never left ambiguous."""
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Sub):
            return f"la différence entre {self.expr(n.left)} et {self.expr(n.right)}"
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Add):
            return f"la somme {_de(self.expr(n.left))} et {_de(self.expr(n.right))}"
        return self.expr(n)

    def is_ratio(self, n: ast.AST) -> bool:
        """An expression between 0 and 1 (an achievement rate, a share), so that k * it is an amount in euros."""
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in ("achievement", "pct"):
            return True
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Sub):
            return self.const(n.left) == 1
        return False

    def cond(self, n: ast.AST) -> str:
        if isinstance(n, ast.Compare) and len(n.ops) == 1:
            words = {
                ast.GtE: "atteint au moins",
                ast.Gt: "dépasse",
                ast.LtE: "ne dépasse pas",
                ast.Lt: "reste sous",
                ast.Eq: "est égal à",
                ast.NotEq: "diffère de",
            }
            return f"{self.expr(n.left)} {words.get(type(n.ops[0]), '?')} {self.expr(n.comparators[0])}"
        if isinstance(n, ast.BoolOp):
            joiner = " et " if isinstance(n.op, ast.And) else " ou "
            return joiner.join(self.cond(v) for v in n.values)
        return self.expr(n)

    def rows(self, n: ast.AST) -> list[tuple[Decimal, Decimal]]:
        assert isinstance(n, ast.List)
        out = []
        for r in n.elts:
            assert isinstance(r, ast.List)
            a, b = (self.const(e) for e in r.elts)
            assert a is not None and b is not None
            out.append((a, b))
        return out

    def call(self, fn: str, args: list[ast.expr], amount: bool) -> str:
        if fn == "max" and len(args) == 2 and self.const(args[0]) == 0:
            return f"{self.expr(args[1], amount)} (sans pouvoir être négatif)"
        if fn in ("max", "min"):
            word = "le plus élevé" if fn == "max" else "le plus faible"
            said = [_de(self.expr(a, amount)) for a in args]
            return f"{word} " + ", ".join(said[:-1]) + " et " + said[-1]
        if fn == "abs":
            return f"la valeur absolue {_de(self.expr(args[0]))}"
        if fn == "clip":
            return (
                f"{self.expr(args[0], amount)}, ramené entre {self.expr(args[1], amount)} "
                f"et {self.expr(args[2], amount)}"
            )
        if fn == "pct":
            c = self.const(args[0])
            return number(c) + NBSP + "%" if c is not None else f"{self.expr(args[0])} %"
        if fn == "above":
            return f"la part {_de(self.expr(args[0]))} au-delà de {self.expr(args[1], True)}"
        if fn == "achievement":
            x = self.expr(args[0])
            lo, hi = self.const(args[1]), self.const(args[2])
            if lo is not None and hi is not None:
                show = percent if max(abs(lo), abs(hi)) <= 1 else number
                return (
                    f"le taux d'atteinte de l'objectif sur {x} (0{NBSP}% jusqu'à {show(lo)}, 100{NBSP}% à partir de "
                    f"{show(hi)}, en proportion entre les deux)"
                )
            return f"le taux d'atteinte de l'objectif sur {x}"
        if fn == "brackets":
            of = args[0]
            eur = not (isinstance(of, ast.Name) and of.id in NOT_EUROS)

            def b(v: Decimal) -> str:
                return euros(v) if eur else number(v)

            rows = self.rows(args[1])
            parts = []
            for i, (lower, rate) in enumerate(rows):
                upper = rows[i + 1][0] if i + 1 < len(rows) else None
                if upper is None:
                    parts.append(f"{percent(rate)} au-delà de {b(lower)}")
                elif lower == 0:
                    parts.append(f"{percent(rate)} jusqu'à {b(upper)}")
                else:
                    parts.append(f"{percent(rate)} de {b(lower)} à {b(upper)}")
            return f"un pourcentage {_de(self.expr(of))}, calculé par tranches : " + ", ".join(parts)
        if fn == "step":
            rows = self.rows(args[1])
            values_are_rates = all(0 <= v < 1 for _, v in rows)
            parts = [
                f"{percent(v) if values_are_rates else euros(v)} à partir de {number(lo)}" for lo, v in rows
            ]
            return (
                f"un {'taux' if values_are_rates else 'montant'} fixé selon {self.expr(args[0])} : "
                + ", ".join(parts)
            )
        if fn == "weighted":
            return "la moyenne pondérée des critères de l'accord"
        if fn == "prior":
            n = self.const(args[1]) if len(args) > 1 else 1
            when = "de la période précédente" if n == 1 else f"de la période d'il y a {n} périodes"
            return f"{self.expr(args[0])} {when}"
        if fn == "progress":
            return f"la progression {_de(self.expr(args[0]))} par rapport à la période précédente"
        return ast.unparse(ast.Call(ast.Name(fn), args, []))


def sentence(formula: str, labels: Mapping[str, Any] | None = None) -> str:
    """The formula as the end of a French sentence ("L'intéressement global est égal à ...")."""
    return _Teller(labels or {}).tell(formula)


def _terms(n: ast.AST) -> list[tuple[int, ast.AST]]:
    """A sum a + b - c as [(+1, a), (+1, b), (-1, c)]."""
    if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Add | ast.Sub):
        right = [(1 if isinstance(n.op, ast.Add) else -1, n.right)]
        return _terms(n.left) + right
    return [(1, n)]


def tables(
    formula: str, figures: Mapping[str, Decimal], known: set[str], labels: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The annex's tables with the year's figures: brackets/step tranches, and the terms of a sum."""
    teller = _Teller(labels or {})
    teller.src = formula
    tree = ast.parse(formula, mode="eval").body
    out: dict[str, Any] = {"brackets": [], "terms": [], "figures": []}
    body = tree
    if (
        isinstance(tree, ast.Call)
        and isinstance(tree.func, ast.Name)
        and tree.func.id == "max"
        and len(tree.args) == 2
        and teller.const(tree.args[0]) == 0
    ):
        body = tree.args[1]

    def value(node: ast.AST) -> Decimal | None:
        try:
            v, _ = Formula.parse(ast.unparse(node), known).evaluate(figures)
        except FormulaError:
            return None
        return v if isinstance(v, Decimal) else None

    names = sorted({n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id in known})
    for name in names:
        if name in figures:
            v = Decimal(figures[name])
            # the agreement's standard figures are euros (but effectif); its own figures say their unit
            unit = teller.units.get(name, "€" if name in LABELS and name not in NOT_EUROS else "")
            if unit == "€":
                shown = euros(v, cents=v != v.to_integral_value())
            elif unit == "%":
                shown = percent(v)
            else:
                shown = number(v) + (NBSP + unit if unit else "")
            out["figures"].append({"name": name, "label": teller.label(name), "value": shown})
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            continue
        if node.func.id not in ("brackets", "step"):
            continue
        x = value(node.args[0])
        rows = teller.rows(node.args[1])
        lines: list[dict[str, Any]] = []
        for i, (lower, rate) in enumerate(rows):
            upper = rows[i + 1][0] if i + 1 < len(rows) else None
            if node.func.id == "brackets":
                part = (
                    max(Decimal(0), (min(x, upper) if upper is not None else x) - lower)
                    if x is not None
                    else None
                )
                lines.append(
                    {
                        "range": (
                            f"de {euros(lower)} à {euros(upper)}"
                            if upper is not None
                            else f"au-delà de {euros(lower)}"
                        ),
                        "rate": percent(rate),
                        "part": euros(part, cents=True) if part is not None else "",
                        "amount": euros((part * rate).quantize(Decimal("0.01"), ROUND_HALF_UP), cents=True)
                        if part is not None
                        else "",
                    }
                )
            else:
                reached = x is not None and x >= lower and (upper is None or x < upper)
                shown = percent(rate) if 0 <= rate < 1 else euros(rate)
                lines.append({"range": f"à partir de {number(lower)}", "rate": shown, "reached": reached})
        amount = value(node)
        out["brackets"].append(
            {
                "kind": node.func.id,
                "of": teller.expr(node.args[0]),
                "x": (
                    euros(x, cents=True)
                    if node.func.id == "brackets"
                    else number(x, 4).rstrip("0").rstrip(",")
                )
                if x is not None
                else "",
                "rows": lines,
                "total": euros(amount, cents=True) if amount is not None else "",
            }
        )
    terms = _terms(body)
    if len(terms) > 1:
        for sign, t in terms:
            got = value(t)
            out["terms"].append(
                {
                    "text": ("moins " if sign < 0 else "") + teller.expr(t, amount=True),
                    "value": euros(got * sign, cents=True) if got is not None else "",
                }
            )
    whole = value(tree)
    out["value"] = euros(max(whole, Decimal(0)), cents=True) if whole is not None else ""
    return out
