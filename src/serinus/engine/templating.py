"""Rendering of MetricTemplate queries written in Flagger's dialect of Go's text/template.

Supported: bare zero-argument functions (`{{ namespace }}`, `{{ target }}`, `{{ service }}`, `{{ ingress }}`,
`{{ route }}`, `{{ interval }}`, `{{ name }}`), `{{ variables.key }}` chains, `{{-` / `-}}` trimming,
`{{ $x := ... }}` / `{{ $x = ... }}` and `{{ $x }}`, `printf` (with `%s %v %d %q %f %%`), pipes (`a | printf "%s"`),
string, raw-string and number literals, and comments. Anything else is a TemplateError that names it.

Every value that comes from the Canary or its variables is escaped for a double-quoted string (backslash, quote,
newline), so no value can close the label matcher it sits in and add its own selectors to the query.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

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
        """The zero-argument functions, already escaped."""
        values = {
            "name": self.name,
            "namespace": self.namespace,
            "target": self.target,
            "service": self.service,
            "ingress": self.ingress,
            "route": self.route,
            "interval": self.interval,
        }
        return {key: quote_value(value) for key, value in values.items()}


def _unquote(token: str) -> str:
    if token.startswith("`"):
        return token[1:-1]
    return re.sub(r"\\(.)", lambda m: _GO_ESCAPES.get(m.group(1), m.group(1)), token[1:-1])


def _gofmt(fmt: str, args: list[object], where: str) -> str:
    out, i, n = [], 0, 0
    while i < len(fmt):
        ch = fmt[i]
        if ch != "%":
            out.append(ch)
            i += 1
            continue
        verb = fmt[i + 1] if i + 1 < len(fmt) else ""
        i += 2
        if verb == "%":
            out.append("%")
            continue
        if n >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        arg = args[n]
        n += 1
        if verb in ("s", "v"):
            out.append(str(arg))
        elif verb == "q":
            out.append('"' + quote_value(str(arg)) + '"')
        elif verb == "d" and isinstance(arg, int | float):
            out.append(str(int(arg)))
        elif verb == "f" and isinstance(arg, int | float):
            out.append(f"{float(arg):f}")
        else:
            raise TemplateError(f"{where}: printf verb %{verb} is not supported for {arg!r}")
    if n < len(args):
        out.append("%!(EXTRA " + ", ".join(str(a) for a in args[n:]) + ")")
    return "".join(out)


class _Renderer:
    def __init__(self, ctx: TemplateContext) -> None:
        self.functions: dict[str, str] = ctx.functions()
        self.variables = {k: quote_value(v) for k, v in ctx.variables.items()}
        self.locals: dict[str, object] = {}

    def operand(self, kind: str, text: str, where: str) -> object:
        if kind in ("str", "raw"):
            return _unquote(text)
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
            return self.variables[rest]
        if head in self.functions and not rest:
            return self.functions[head]
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
            if not args or not isinstance(args[0], str):
                raise TemplateError(f"{where}: printf needs a format string")
            return _gofmt(args[0], args[1:], where)
        if len(tokens) > 1 or piped is not None:
            raise TemplateError(f"{where}: {text} takes no arguments")
        return self.operand(kind, text, where)

    def action(self, body: str, where: str) -> str:
        body = body.strip()
        if not body or body.startswith("/*"):
            return ""
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
            return ""
        return str(value)


def render(template: str, ctx: TemplateContext) -> str:
    """Render `template`; raises TemplateError naming the action that failed."""
    renderer = _Renderer(ctx)
    out: list[str] = []
    pos = 0
    for match in _ACTION.finditer(template):
        text = template[pos : match.start()]
        if match.group(1):
            text = text.rstrip()
        out.append(text)
        out.append(renderer.action(match.group(2), f"action {match.group(0)!r}"))
        pos = match.end()
        if match.group(3):
            while pos < len(template) and template[pos].isspace():
                pos += 1
    rest = template[pos:]
    if "{{" in rest:
        raise TemplateError(f"unclosed action in {rest.strip()[:40]!r}")
    out.append(rest)
    return "".join(out)
