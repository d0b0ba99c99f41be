"""Our query grammar, parsed into an AST that each SearchStore translates.

Users type `Milind Soman cycling`, `"roadside romance"`, `-trailer`,
`cycling OR running`, `(film OR series) title:Soman`. No engine ever sees the
user's string, so engine syntax (Lucene, tantivy) cannot be injected, and both
stores answer the same question.

    query   := or_expr
    or_expr := and_expr ("OR" and_expr)*
    and_expr:= unary+                       (juxtaposition means AND)
    unary   := "-" primary | primary
    primary := "(" or_expr ")" | FIELD ":" (WORD | PHRASE) | PHRASE | WORD
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Field = Literal["title", "author", "source"]
FIELDS: frozenset[str] = frozenset({"title", "author", "source"})
MAX_QUERY_CHARS = 1000
MAX_CLAUSES = 64


class QuerySyntaxError(ValueError):
    """A query the grammar cannot read; `position` is a 0-based character offset."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} (at character {position + 1})")
        self.reason = message
        self.position = position


@dataclass(frozen=True)
class Term:
    text: str
    field: Field | None = None


@dataclass(frozen=True)
class Phrase:
    words: tuple[str, ...]
    field: Field | None = None


@dataclass(frozen=True)
class Not:
    child: Node


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]


Node = Term | Phrase | Not | And | Or


@dataclass(frozen=True)
class _Token:
    kind: Literal["word", "phrase", "lparen", "rparen", "or", "not", "field"]
    text: str
    position: int


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        if ch.isspace():
            i += 1
        elif ch == '"':
            end = source.find('"', i + 1)
            if end == -1:
                raise QuerySyntaxError("unbalanced quote: this phrase is never closed", i)
            tokens.append(_Token("phrase", source[i + 1 : end], i))
            i = end + 1
        elif ch == "(":
            tokens.append(_Token("lparen", ch, i))
            i += 1
        elif ch == ")":
            tokens.append(_Token("rparen", ch, i))
            i += 1
        elif ch == "-" and i + 1 < n and not source[i + 1].isspace() and source[i + 1] != "-":
            tokens.append(_Token("not", ch, i))
            i += 1
        else:
            start = i
            while i < n and not source[i].isspace() and source[i] not in '"()':
                i += 1
            word = source[start:i]
            name, colon, rest = word.partition(":")
            if colon and name.lower() in FIELDS:
                tokens.append(_Token("field", name.lower(), start))
                if rest:
                    tokens.append(_Token("word", rest, start + len(name) + 1))
            elif word == "OR":
                tokens.append(_Token("or", word, start))
            elif word != "AND":
                tokens.append(_Token("word", word, start))
    return tokens


class _Parser:
    def __init__(self, tokens: list[_Token], length: int) -> None:
        self.tokens = tokens
        self.length = length
        self.index = 0
        self.clauses = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def parse(self) -> Node:
        node = self.or_expr()
        extra = self.peek()
        if extra is not None:
            raise QuerySyntaxError("unbalanced parenthesis: ')' without '('", extra.position)
        return node

    def or_expr(self) -> Node:
        children = [self.and_expr()]
        while (token := self.peek()) is not None and token.kind == "or":
            self.take()
            if self.peek() is None or self.peek().kind in ("or", "rparen"):  # type: ignore[union-attr]
                raise QuerySyntaxError("OR needs a term on both sides", token.position)
            children.append(self.and_expr())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def and_expr(self) -> Node:
        children: list[Node] = []
        while (token := self.peek()) is not None and token.kind not in ("or", "rparen"):
            children.append(self.unary())
        if not children:
            token = self.peek()
            position = token.position if token else self.length
            raise QuerySyntaxError('expected a word or a "phrase"', position)
        return children[0] if len(children) == 1 else And(tuple(children))

    def unary(self) -> Node:
        token = self.peek()
        if token is not None and token.kind == "not":
            self.take()
            following = self.peek()
            if following is None or following.kind in ("not", "or", "rparen"):
                raise QuerySyntaxError(
                    "'-' must be followed by a word or a \"phrase\"", token.position
                )
            return Not(self.primary())
        return self.primary()

    def primary(self) -> Node:
        token = self.take()
        self.clauses += 1
        if self.clauses > MAX_CLAUSES:
            raise QuerySyntaxError(f"too many terms (at most {MAX_CLAUSES})", token.position)
        if token.kind == "lparen":
            node = self.or_expr()
            closing = self.peek()
            if closing is None or closing.kind != "rparen":
                raise QuerySyntaxError(
                    "unbalanced parenthesis: '(' is never closed", token.position
                )
            self.take()
            return node
        if token.kind == "field":
            value = self.peek()
            if value is None or value.kind not in ("word", "phrase"):
                raise QuerySyntaxError(f'{token.text}: needs a word or a "phrase"', token.position)
            self.take()
            return self.leaf(value, token.text)  # type: ignore[arg-type]
        if token.kind in ("word", "phrase"):
            return self.leaf(token, None)
        raise QuerySyntaxError(f"unexpected {token.text!r}", token.position)

    @staticmethod
    def leaf(token: _Token, field: Field | None) -> Node:
        if token.kind == "phrase":
            words = tuple(token.text.split())
            if not words:
                raise QuerySyntaxError("empty phrase", token.position)
            return Phrase(words, field) if len(words) > 1 else Term(words[0], field)
        return Term(token.text, field)


def parse_query(source: str) -> Node:
    """Parse a user's query; raises QuerySyntaxError with the position of the problem."""
    if len(source) > MAX_QUERY_CHARS:
        raise QuerySyntaxError(
            f"query too long (at most {MAX_QUERY_CHARS} characters)", MAX_QUERY_CHARS
        )
    if not source.strip():
        raise QuerySyntaxError("empty query", 0)
    return _Parser(_tokenize(source), len(source)).parse()


def positive_terms(node: Node) -> list[Term | Phrase]:
    """The leaves a result should match (not the excluded ones): for highlighting."""
    if isinstance(node, Term | Phrase):
        return [node]
    if isinstance(node, Not):
        return []
    return [leaf for child in node.children for leaf in positive_terms(child)]


def plain_words(node: And) -> list[str]:
    """The words of an AND's unfielded terms, in order: what proximity ranking rewards
    when they stand close together."""
    return [
        child.text for child in node.children if isinstance(child, Term) and child.field is None
    ]
