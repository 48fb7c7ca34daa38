"""Rendering of MetricTemplate queries written in Flagger's dialect of Go's text/template.

Supported: bare zero-argument functions (`{{ namespace }}`, `{{ target }}`, `{{ service }}`, `{{ ingress }}`,
`{{ route }}`, `{{ interval }}`, `{{ name }}`), `{{ variables.key }}` chains, `{{-` / `-}}` trimming,
`{{ $x := ... }}` / `{{ $x = ... }}` and `{{ $x }}`, `printf` (with `%s %v %d %q %f %%`), pipes (`a | printf "%s"`),
string, raw-string and number literals, and comments. Anything else is a TemplateError that names it.

Every value that comes from the Canary or its variables is written for the spot of the query it lands in, by the
rules of the provider's query language (serinus.engine.dialects): escaped inside a string literal, refused outside
one unless it is plain (letters, digits, `_ . -`), so no value can close the string it sits in, start a comment, or
add its own selectors to the query. For plain values (every Kubernetes name) the output is Go's, byte for byte.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from serinus.engine.dialects import PLAIN, PLAIN_TEXT, PROMETHEUS, Dialect, Refused, check_value
from serinus.errors import InvalidSpecError


class TemplateError(InvalidSpecError):
    """A query template that cannot be rendered; the message says where and why."""


_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.S)
_TOKEN = re.compile(
    r"""\s*(?:(?P<str>"(?:\\.|[^"\\])*")|(?P<raw>`[^`]*`)|(?P<num>-?\d+(?:\.\d+)?)"""
    r"""|(?P<var>\$[A-Za-z0-9_]*)|(?P<assign>:=|=)|(?P<pipe>\|)"""
    r"""|(?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)|(?P<bad>\S+))"""
)
_GO_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "r": "\r"}


def quote_value(value: str) -> str:
    """Escape a value for a double-quoted string in PromQL, JSON and most query languages."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@dataclass(frozen=True)
class TemplateContext:
    """What a template can see: the Canary's names, the metric interval and the template variables."""

    name: str
    namespace: str
    target: str
    service: str
    ingress: str
    route: str
    interval: str
    variables: Mapping[str, str]

    def functions(self) -> dict[str, str]:
        """The zero-argument functions and their values (as they are: the renderer writes them for their spot)."""
        return {
            "name": self.name,
            "namespace": self.namespace,
            "target": self.target,
            "service": self.service,
            "ingress": self.ingress,
            "route": self.route,
            "interval": self.interval,
        }


#: a piece of rendered text and where it came from: "" for the template's own text, else the value's name
Part = tuple[str, str]


@dataclass(frozen=True)
class _Text:
    """Rendered text that remembers which pieces are values (written for their spot only at the end)."""

    parts: tuple[Part, ...]

    def __str__(self) -> str:
        return "".join(text for text, _ in self.parts)

    @property
    def source(self) -> str:
        """The name of the first value in it, "" when it holds none."""
        return next((source for _, source in self.parts if source), "")


def _unquote(token: str) -> str:
    if token.startswith("`"):
        return token[1:-1]
    return re.sub(r"\\(.)", lambda m: _GO_ESCAPES.get(m.group(1), m.group(1)), token[1:-1])


def _gofmt(fmt: _Text, args: list[object], where: str) -> _Text:
    """Go's Sprintf for the verbs templates use. Values keep their names through %s/%v and %q, so that they are
    written for the spot they land in; a format that is itself a value makes the whole result that value."""
    if fmt.source:
        return _Text(((str(_gofmt(_Text(((str(fmt), ""),)), args, where)), fmt.source),))
    text = str(fmt)
    out: list[Part] = []
    i, n = 0, 0
    while i < len(text):
        ch = text[i]
        if ch != "%":
            out.append((ch, ""))
            i += 1
            continue
        verb = text[i + 1] if i + 1 < len(text) else ""
        i += 2
        if verb == "%":
            out.append(("%", ""))
            continue
        if n >= len(args):
            out.append((f"%!{verb}(MISSING)", ""))
            continue
        arg = args[n]
        n += 1
        if verb in ("s", "v"):
            out.extend(arg.parts if isinstance(arg, _Text) else ((str(arg), ""),))
        elif verb == "q":
            # Go quotes the argument; a value inside is written (escaped) for the string the quotes open
            inner = arg.parts if isinstance(arg, _Text) else ((str(arg), ""),)
            out.extend([('"', ""), *((t if src else quote_value(t), src) for t, src in inner), ('"', "")])
        elif verb == "d" and isinstance(arg, int | float):
            out.append((str(int(arg)), ""))
        elif verb == "f" and isinstance(arg, int | float):
            out.append((f"{float(arg):f}", ""))
        else:
            raise TemplateError(f"{where}: printf verb %{verb} is not supported for {str(arg)!r}")
    if n < len(args):
        out.append(("%!(EXTRA " + ", ".join(str(a) for a in args[n:]) + ")", ""))
    return _Text(tuple(out))


class _Renderer:
    def __init__(self, ctx: TemplateContext) -> None:
        self.functions: dict[str, str] = ctx.functions()
        self.variables = dict(ctx.variables)
        self.locals: dict[str, object] = {}

    def operand(self, kind: str, text: str, where: str) -> object:
        if kind in ("str", "raw"):
            return _Text(((_unquote(text), ""),))
        if kind == "num":
            return float(text) if "." in text else int(text)
        if kind == "var":
            if text not in self.locals:
                raise TemplateError(f"{where}: undefined variable {text}")
            return self.locals[text]
        head, _, rest = text.partition(".")
        if head == "variables":
            if not rest:
                raise TemplateError(f"{where}: `variables` needs a key, as in variables.reporter")
            if rest not in self.variables:
                raise TemplateError(f"{where}: template variable {rest!r} is not defined in templateVariables")
            return _Text(((str(self.variables[rest]), f"variables.{rest}"),))
        if head in self.functions and not rest:
            return _Text(((self.functions[head], head),))
        if head == "printf":
            raise TemplateError(f"{where}: printf needs a format string")
        raise TemplateError(f"{where}: function {text!r} is not defined")

    def command(self, tokens: list[tuple[str, str]], piped: object | None, where: str) -> object:
        if not tokens:
            raise TemplateError(f"{where}: empty command in pipeline")
        kind, text = tokens[0]
        if kind == "ident" and text == "printf":
            args = [self.operand(k, t, where) for k, t in tokens[1:]]
            if piped is not None:
                args.append(piped)
            if not args or not isinstance(args[0], _Text):
                raise TemplateError(f"{where}: printf needs a format string")
            return _gofmt(args[0], args[1:], where)
        if len(tokens) > 1 or piped is not None:
            raise TemplateError(f"{where}: {text} takes no arguments")
        return self.operand(kind, text, where)

    def action(self, body: str, where: str) -> tuple[Part, ...]:
        body = body.strip()
        if not body or body.startswith("/*"):
            return ()
        tokens = [(m.lastgroup or "", m.group(m.lastgroup or "")) for m in _TOKEN.finditer(body) if m.lastgroup]
        for kind, text in tokens:
            if kind == "bad":
                raise TemplateError(f"{where}: unexpected {text!r}")
            if kind == "ident" and text in ("if", "else", "end", "range", "with", "define", "template", "block"):
                raise TemplateError(f"{where}: `{text}` actions are not supported in metric queries")
        target = None
        if len(tokens) >= 2 and tokens[0][0] == "var" and tokens[1][0] == "assign":
            target, assign, tokens = tokens[0][1], tokens[1][1], tokens[2:]
            if assign == "=" and target not in self.locals:
                raise TemplateError(f"{where}: assignment to undeclared variable {target}")
        value: object | None = None
        command: list[tuple[str, str]] = []
        for kind, text in [*tokens, ("pipe", "|")]:
            if kind == "pipe":
                value = self.command(command, value, where)
                command = []
            else:
                command.append((kind, text))
        if target is not None:
            self.locals[target] = value
            return ()
        return value.parts if isinstance(value, _Text) else ((str(value), ""),)


def render(template: str, ctx: TemplateContext, dialect: Dialect = PROMETHEUS) -> str:
    """Render `template` for a provider whose query language is `dialect` (PromQL unless told); raises
    TemplateError naming the action that failed, or the value that cannot be written where it lands."""
    renderer = _Renderer(ctx)
    out: list[Part] = []
    pos = 0
    for match in _ACTION.finditer(template):
        text = template[pos : match.start()]
        if match.group(1):
            text = text.rstrip()
        out.append((text, ""))
        out.extend(renderer.action(match.group(2), f"action {match.group(0)!r}"))
        pos = match.end()
        if match.group(3):
            while pos < len(template) and template[pos].isspace():
                pos += 1
    rest = template[pos:]
    if "{{" in rest:
        raise TemplateError(f"unclosed action in {rest.strip()[:40]!r}")
    out.append((rest, ""))
    return _write(out, dialect)


# ----- writing values for their spot ---------------------------------------------------------------------------


class _Lexer:
    """The query language's lexical state, one step at a time: outside strings ("bare"), in a string, in a line
    comment or in a block comment. Only what a value's safety depends on is followed."""

    def __init__(self, dialect: Dialect) -> None:
        self.d = dialect
        self.mode = "bare"
        self.opener = ""  # the quote (or block-comment opener) of the current string (comment)
        self.closer = ""
        self.escaped = False
        self.last = ""  # YAML: the last character on this line outside strings that is not a space

    def step(self, text: str, i: int) -> tuple[int, bool]:
        """Read the token at `i`: (its length, whether it opened or closed a string or a comment)."""
        d, ch = self.d, text[i]
        if self.mode == "bare":
            for opener in d.line_comments:
                if text.startswith(opener, i) and (not d.yaml or self.before(text, i)[-1:] in ("", " ", "\t")):
                    self.mode = "line"
                    return len(opener), True
            for opener, closer in d.block_comments:
                if text.startswith(opener, i):
                    self.mode, self.opener, self.closer = "block", opener, closer
                    return len(opener), True
            if ch in d.quotes and (not d.yaml or self.last in ("", ":", "-", "[", "{", ",", "?")):
                self.mode, self.opener, self.closer, self.escaped = "string", ch, d.quotes[ch].close, False
                return 1, True
            if ch == "\n":
                self.last = ""
            elif not ch.isspace():
                self.last = ch
            return 1, False
        if self.mode == "string":
            quote = d.quotes[self.opener]
            if self.escaped:
                self.escaped = False
                return 1, False
            if quote.escape_char and ch == quote.escape_char:
                self.escaped = True
                return 1, False
            if text.startswith(self.closer, i):
                if quote.doubled and text.startswith(self.closer, i + len(self.closer)):
                    return 2 * len(self.closer), False
                self.mode, self.last = "bare", self.closer
                return len(self.closer), True
            return 1, False
        if self.mode == "line":
            if ch in "\r\n":
                self.mode, self.last = "bare", ""
                return 1, True
            return 1, False
        if text.startswith(self.closer, i):
            self.mode = "bare"
            return len(self.closer), True
        return 1, False

    @staticmethod
    def before(text: str, i: int) -> str:
        """The text of this line before `i` (YAML: a `#` starts a comment only at a line's start or after a space)."""
        start = text.rfind("\n", 0, i) + 1
        return text[start:i] if i > start else ""

    def run(self, text: str) -> None:
        """Read all of `text`."""
        i = 0
        while i < len(text):
            i += self.step(text, i)[0]

    def write(self, value: str) -> str:
        """`value` written for the spot the lexer is at; Refused when it cannot be."""
        check_value(value)
        if self.mode == "bare":
            if not PLAIN.match(value):
                raise Refused(f"outside a string literal a value may only hold {PLAIN_TEXT}")
            return value
        if self.mode == "string":
            quote = self.d.quotes[self.opener]
            if quote.write is None:
                if quote.close in value:
                    raise Refused(f"a {self.opener}...{quote.close} string cannot hold {quote.close}")
                return value
            return quote.write(value)
        if self.mode == "line":
            if "\n" in value or "\r" in value:
                raise Refused("a comment cannot hold a line break")
            return value
        if self.closer in value:
            raise Refused(f"a comment cannot hold {self.closer}")
        return value


def _write(parts: Sequence[Part], dialect: Dialect) -> str:
    """The query: template text as it is, each value written for its spot; then the whole query is read again and
    a value that would still open or close a string or a comment (next to the template's own text) is refused."""
    text: list[str] = []
    sources: list[str] = []
    for piece, source in parts:
        if source:
            lexer = _Lexer(dialect)  # the state where the value lands, read over the whole query so far
            lexer.run("".join(text))
            try:
                piece = lexer.write(piece)
            except Refused as err:
                raise _refused(dialect, source, piece, str(err)) from None
        text.append(piece)
        sources.extend([source] * len(piece))
    query = "".join(text)
    check = _Lexer(dialect)
    i = 0
    while i < len(query):
        length, moved = check.step(query, i)
        source = next((src for src in sources[i : i + length] if src), "") if moved else ""
        if source:
            raise _refused(
                dialect, source, _value_at(query, sources, i), "it would open or close a string or a comment"
            )
        i += length
    return query


def _value_at(query: str, sources: list[str], i: int) -> str:
    """The written value around position `i` (for the message)."""
    start, end = i, i
    while start > 0 and sources[start - 1] == sources[i]:
        start -= 1
    while end < len(query) and sources[end] == sources[i]:
        end += 1
    return query[start:end]


def _refused(dialect: Dialect, source: str, value: str, why: str) -> TemplateError:
    shown = value if len(value) <= 60 else value[:60] + "..."
    return TemplateError(f"the value of {source} ({shown!r}) cannot be written into this {dialect.title} query: {why}")
