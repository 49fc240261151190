"""A small, safe expression language, compiled to Polars expressions: the steps of declarative
pipelines, and a dataset spec's expression rules and derived columns.

User text is tokenised and parsed here (recursive descent); it is never passed to ``eval`` or
spliced into SQL. Names are columns, checked against the frame's schema before anything runs, and
functions come from a fixed list. Grammar, loosest binding first::

    expr    := or
    or      := and ("or" and)*
    and     := not ("and" not)*
    not     := "not" not | compare
    compare := sum (("==" | "!=" | "<" | "<=" | ">" | ">=") sum
                    | "is" ["not"] "null" | ["not"] "in" "(" literal ("," literal)* ")")?
    sum     := product (("+" | "-") product)*
    product := unary (("*" | "/" | "//" | "%") unary)*
    unary   := "-" unary | atom
    atom    := number | 'string' | true | false | null | name | name "(" args ")" | "(" expr ")"

Example: ``quantity * unit_price * (1 - coalesce(discount, 0))``. ``/`` divides exactly; ``//``
is integer (floor) division, so ``dep_time // 100`` is the hour of an HHMM clock time.

With a ``tolerance``, every ``==`` holds when its sides differ by at most that much (and ``!=``
when they differ by more), so money that was rounded per line can be compared with a total.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import polars as pl

from assets.core.clock import at_hhmm, hhmm_minutes, make_datetime


class ExpressionError(ValueError):
    """An expression that cannot be compiled; the message says where and why."""


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
      | (?P<string>'(?:[^'\\]|\\.)*')
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<op>==|!=|<=|>=|<|>|\+|-|\*|//|/|%|\(|\)|,)
    )""",
    re.VERBOSE,
)
KEYWORDS = {"and", "or", "not", "is", "null", "in", "true", "false"}
# Far above any real rule, far below a RecursionError or Polars planning for minutes.
MAX_DEPTH = 32
MAX_TOKENS = 1_000


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    pos: int


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise ExpressionError(f"unexpected character {text[pos:].lstrip()[:1]!r} at {pos}")
        kind = match.lastgroup or "op"
        value, start = match.group(kind), match.start(kind)
        if kind == "name" and value.lower() in KEYWORDS:
            kind, value = "keyword", value.lower()
        tokens.append(Token(kind, value, start))
        pos = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


# name -> (min args, max args, builder). Builders take compiled argument expressions.
FUNCTIONS: dict[str, tuple[int, int, Callable[..., pl.Expr]]] = {
    "abs": (1, 1, lambda e: e.abs()),
    "round": (1, 2, lambda e, n=0: e.round(n)),  # n: a whole-number literal (checked in call)
    "floor": (1, 1, lambda e: e.floor()),
    "ceil": (1, 1, lambda e: e.ceil()),
    "sqrt": (1, 1, lambda e: e.sqrt()),
    "log": (1, 1, lambda e: e.log()),
    "lower": (1, 1, lambda e: e.str.to_lowercase()),
    "upper": (1, 1, lambda e: e.str.to_uppercase()),
    "trim": (1, 1, lambda e: e.str.strip_chars()),
    "length": (1, 1, lambda e: e.str.len_chars()),
    "concat": (2, 16, lambda *es: pl.concat_str(list(es))),
    "coalesce": (2, 16, lambda *es: pl.coalesce(list(es))),
    "least": (2, 16, lambda *es: pl.min_horizontal(list(es))),
    "greatest": (2, 16, lambda *es: pl.max_horizontal(list(es))),
    "if": (3, 3, lambda c, a, b: pl.when(c).then(a).otherwise(b)),
    "year": (1, 1, lambda e: e.dt.year()),
    "month": (1, 1, lambda e: e.dt.month()),
    "day": (1, 1, lambda e: e.dt.day()),
    "hour": (1, 1, lambda e: e.dt.hour()),
    "weekday": (1, 1, lambda e: e.dt.weekday()),
    "date": (1, 1, lambda e: e.dt.date()),
    "month_start": (1, 1, lambda e: e.dt.truncate("1mo").dt.date()),
    "week_start": (1, 1, lambda e: e.dt.truncate("1w").dt.date()),
    "to_float": (1, 1, lambda e: e.cast(pl.Float64, strict=False)),
    "to_int": (1, 1, lambda e: e.cast(pl.Int64, strict=False)),
    "to_string": (1, 1, lambda e: e.cast(pl.String)),
    "make_date": (3, 3, lambda y, m, d: make_datetime(y, m, d).dt.date()),
    "make_datetime": (3, 6, make_datetime),
    "hhmm_to_minutes": (1, 1, hhmm_minutes),
    "at_hhmm": (2, 2, at_hhmm),
    # The format: a text literal (checked in call), e.g. to_date(day, '%d/%m/%Y').
    "to_date": (2, 2, lambda e, fmt: e.str.strip_chars().str.to_date(fmt, strict=False)),
    "to_datetime": (
        2,
        2,
        lambda e, fmt: e.str.strip_chars().str.to_datetime(fmt, strict=False, time_unit="us"),
    ),
}
# Functions whose last argument is a text literal, not an expression.
_FORMAT_ARGUMENT = {"to_date", "to_datetime"}


@dataclass
class Compiled:
    expr: pl.Expr
    columns: set[str] = field(default_factory=set)


class _Parser:
    def __init__(self, text: str, columns: Sequence[str], tolerance: float | None = None):
        self.text = text
        self.tolerance = tolerance
        self.tokens = tokenize(text)
        if len(self.tokens) > MAX_TOKENS:
            raise ExpressionError(f"longer than {MAX_TOKENS} tokens; split it into derived columns")
        self.depth = 0
        self.i = 0
        self.columns = list(columns)
        self.used: set[str] = set()
        self.int_literals: dict[int, int] = {}  # id(expr) -> value, for round()'s digits
        self.str_literals: dict[int, str] = {}  # id(expr) -> text, for to_date()'s format

    # -- helpers
    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def accept(self, kind: str, text: str | None = None) -> Token | None:
        tok = self.peek()
        if tok.kind == kind and (text is None or tok.text == text):
            self.i += 1
            return tok
        return None

    def expect(self, kind: str, text: str) -> Token:
        tok = self.accept(kind, text)
        if tok is None:
            got = self.peek()
            shown = got.text or "the end"
            raise ExpressionError(f"expected {text!r} at {got.pos}, found {shown!r}")
        return tok

    @contextmanager
    def nested(self, tok: Token) -> Iterator[None]:
        self.depth += 1  # a parser is used once: an error ends it, so no finally is needed
        if self.depth > MAX_DEPTH:
            raise ExpressionError(f"nested deeper than {MAX_DEPTH} levels at {tok.pos}")
        yield
        self.depth -= 1

    # -- grammar
    def parse(self) -> Compiled:
        expr = self.or_()
        tok = self.peek()
        if tok.kind != "end":
            raise ExpressionError(f"unexpected {tok.text!r} at {tok.pos}")
        return Compiled(expr, self.used)

    def or_(self) -> pl.Expr:
        expr = self.and_()
        while self.accept("keyword", "or"):
            expr = expr | self.and_()
        return expr

    def and_(self) -> pl.Expr:
        expr = self.not_()
        while self.accept("keyword", "and"):
            expr = expr & self.not_()
        return expr

    def not_(self) -> pl.Expr:
        if tok := self.accept("keyword", "not"):
            with self.nested(tok):
                return ~self.not_()
        return self.compare()

    def compare(self) -> pl.Expr:
        left = self.sum_()
        tok = self.peek()
        if tok.kind == "op" and tok.text in ("==", "!=", "<", "<=", ">", ">="):
            self.take()
            right = self.sum_()
            if self.tolerance is not None and tok.text in ("==", "!="):
                # Plus a relative epsilon: sums of decimal amounts in binary floats miss a
                # tolerance equal to the rounding step (0.5 off came out as 0.500000000003638).
                slack = 1e-9 * pl.max_horizontal(left.abs(), right.abs())
                close = (left - right).abs() <= self.tolerance + slack
                return close if tok.text == "==" else ~close
            return {
                "==": left.eq,
                "!=": left.ne,
                "<": left.lt,
                "<=": left.le,
                ">": left.gt,
                ">=": left.ge,
            }[tok.text](right)
        if self.accept("keyword", "is"):
            negate = self.accept("keyword", "not") is not None
            self.expect("keyword", "null")
            return left.is_not_null() if negate else left.is_null()
        negate = False
        if tok.kind == "keyword" and tok.text == "not" and self.tokens[self.i + 1].text == "in":
            self.take()
            negate = True
        if self.accept("keyword", "in"):
            self.expect("op", "(")
            values = [self.literal_value()]
            while self.accept("op", ","):
                values.append(self.literal_value())
            self.expect("op", ")")
            member = left.is_in(values)
            return ~member if negate else member
        return left

    def sum_(self) -> pl.Expr:
        expr = self.product()
        while (tok := self.peek()).kind == "op" and tok.text in ("+", "-"):
            self.take()
            right = self.product()
            expr = expr + right if tok.text == "+" else expr - right
        return expr

    def product(self) -> pl.Expr:
        expr = self.unary()
        while (tok := self.peek()).kind == "op" and tok.text in ("*", "/", "//", "%"):
            self.take()
            right = self.unary()
            expr = {
                "*": expr.__mul__,
                "/": expr.__truediv__,
                "//": expr.__floordiv__,
                "%": expr.__mod__,
            }[tok.text](right)
        return expr

    def unary(self) -> pl.Expr:
        if tok := self.accept("op", "-"):
            with self.nested(tok):
                return -self.unary()
        return self.atom()

    def literal_value(self) -> object:
        tok = self.take()
        if tok.kind == "number":
            return float(tok.text) if any(c in tok.text for c in ".eE") else int(tok.text)
        if tok.kind == "string":
            return _unquote(tok.text)
        if tok.kind == "op" and tok.text == "-" and self.peek().kind == "number":
            value = self.literal_value()
            return -value  # type: ignore[operator]
        if tok.kind == "keyword" and tok.text in ("true", "false"):
            return tok.text == "true"
        raise ExpressionError(f"expected a literal at {tok.pos}, found {tok.text or 'the end'!r}")

    def atom(self) -> pl.Expr:
        tok = self.take()
        if tok.kind == "number":
            value = float(tok.text) if any(c in tok.text for c in ".eE") else int(tok.text)
            expr = pl.lit(value)
            if isinstance(value, int):
                self.int_literals[id(expr)] = value
            return expr
        if tok.kind == "string":
            text = _unquote(tok.text)
            expr = pl.lit(text)
            self.str_literals[id(expr)] = text
            return expr
        if tok.kind == "keyword" and tok.text in ("true", "false"):
            return pl.lit(tok.text == "true")
        if tok.kind == "keyword" and tok.text == "null":
            return pl.lit(None)
        if tok.kind == "op" and tok.text == "(":
            with self.nested(tok):
                expr = self.or_()
            self.expect("op", ")")
            return expr
        if tok.kind == "name":
            if self.accept("op", "("):
                with self.nested(tok):
                    return self.call(tok)
            return self.column(tok)
        raise ExpressionError(f"unexpected {tok.text or 'end of expression'!r} at {tok.pos}")

    def column(self, tok: Token) -> pl.Expr:
        if tok.text not in self.columns:
            hint = difflib.get_close_matches(tok.text, self.columns, n=1)
            suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
            raise ExpressionError(f"unknown column {tok.text!r} at {tok.pos}{suggestion}")
        self.used.add(tok.text)
        return pl.col(tok.text)

    def call(self, tok: Token) -> pl.Expr:
        name = tok.text.lower()
        if name not in FUNCTIONS:
            hint = difflib.get_close_matches(name, list(FUNCTIONS), n=1)
            suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
            raise ExpressionError(f"unknown function {tok.text!r} at {tok.pos}{suggestion}")
        args: list[pl.Expr] = []
        if not self.accept("op", ")"):
            args.append(self.or_())
            while self.accept("op", ","):
                args.append(self.or_())
            self.expect("op", ")")
        low, high, build = FUNCTIONS[name]
        if not low <= len(args) <= high:
            want = str(low) if low == high else f"{low} to {high}"
            raise ExpressionError(f"{name}() takes {want} arguments, got {len(args)}")
        if name == "round" and len(args) == 2:
            if id(args[1]) not in self.int_literals:
                raise ExpressionError(
                    "round(): the digits must be a whole number, e.g. round(x, 2)"
                )
            return build(args[0], self.int_literals[id(args[1])])
        if name in _FORMAT_ARGUMENT:
            if id(args[1]) not in self.str_literals:
                raise ExpressionError(f"{name}(): the format must be a text, e.g. '%d/%m/%Y'")
            return build(args[0], self.str_literals[id(args[1])])
        return build(*args)


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])


def compile_expression(
    text: str, columns: Sequence[str], *, tolerance: float | None = None
) -> Compiled:
    """Compile ``text`` against the available ``columns``; raises ExpressionError."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("an expression must be a non-empty string")
    return _Parser(text, columns, tolerance).parse()
