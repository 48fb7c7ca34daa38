"""YAML manifests as Kubernetes reads them, with the line of every field so problems can point at it.

This is the one YAML reader of every command (manifests, scenarios, the judge's annotations): it refuses, before
anything is expanded, documents nested deeper than `MAX_DEPTH` levels, aliases that would add more than
`MAX_ALIAS_VALUES` values or `MAX_ALIAS_CHARACTERS` characters (a few hundred bytes of nested aliases otherwise
expand to billions of values) and whole numbers of more than 1,000 digits; every problem is a ManifestError, one
line with the line and column.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from serinus.api.problems import Path
from serinus.errors import InvalidSpecError

_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_FLOAT = "tag:yaml.org,2002:float"
_INT = "tag:yaml.org,2002:int"
#: Longest whole number read: far past any Go integer, and under Python's own limit on converting digits (4300).
_MAX_DIGITS = 1000

#: Deepest nesting of mappings and lists in one document, aliases included. Kubernetes objects need about 30
#: (a CRD's schema); the bound keeps every recursive step after loading far from Python's recursion limit.
MAX_DEPTH = 100
#: Most values aliases may add to one document. Real manifests add a few hundred; a "billion laughs" document
#: adds 9**9 from 342 bytes.
MAX_ALIAS_VALUES = 10_000
#: Most characters of text aliases may add to one document: an alias of a long string repeated under the values
#: bound would otherwise still print gigabytes.
MAX_ALIAS_CHARACTERS = 1_000_000


class ManifestError(InvalidSpecError):
    """Text that is not YAML (or that YAML would expand past our bounds); the message is one line and names the
    line and column. `problem`, `line` and `column` (1-based, None when unknown) are its parts."""

    def __init__(self, problem: str, line: int | None = None, column: int | None = None) -> None:
        self.problem, self.line, self.column = problem, line, column
        where = f" (line {line}, column {column})" if line is not None and column is not None else ""
        super().__init__(f"not valid YAML: {problem}{where}")


class _Loader(yaml.SafeLoader):
    """YAML 1.1 like Kubernetes' decoder, but timestamps stay text: the API server sees them as strings. Nesting
    is bounded while composing, before the deeper levels are even parsed."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def fetch_flow_collection_start(self, TokenClass: Any) -> None:
        """PyYAML's, refusing flow collections (`[`, `{`) deeper than MAX_DEPTH as soon as they are scanned: the
        scanner looks up to 1024 characters ahead for a key at every level, so `[[[[...` costs seconds before
        the composer even sees the first level."""
        if self.flow_level >= MAX_DEPTH:
            raise yaml.scanner.ScannerError(
                None, None, f"nesting deeper than {MAX_DEPTH} levels is not accepted", self.get_mark()
            )
        super().fetch_flow_collection_start(TokenClass)

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        """PyYAML's, with the Python errors an explicit tag on a wrong value raises (`!!int foo`,
        `!!timestamp now`) turned into a YAML error at that value."""
        try:
            return super().construct_object(node, deep)
        except (ValueError, KeyError, AttributeError, TypeError, OverflowError):
            value = node.value if isinstance(node, yaml.ScalarNode) else "..."
            tag = node.tag.rsplit(":", 1)[-1]
            raise yaml.constructor.ConstructorError(
                None, None, f"{value!r} is not a valid !!{tag}", node.start_mark
            ) from None

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        """PyYAML's compose_node (recursive), refusing to go deeper than MAX_DEPTH."""
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise yaml.composer.ComposerError(
                    None, None, f"nesting deeper than {MAX_DEPTH} levels is not accepted", mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
# Kubernetes' YAML decoder (go-yaml) also reads `1e3` and `-2E-5` as numbers; PyYAML's YAML 1.1 needs a dot.
_Loader.add_implicit_resolver(_FLOAT, re.compile(r"^[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+$"), list("-+0123456789"))


@dataclass(frozen=True)
class Document:
    """One YAML document of a file."""

    #: 1-based position of the document in its file.
    index: int
    #: 1-based line where the document starts.
    line: int
    data: Any
    #: Field path -> 1-based line of its key (or list item).
    lines: Mapping[Path, int] = field(default_factory=dict)
    #: Paths of mapping keys written twice (YAML keeps the last value).
    duplicates: tuple[Path, ...] = ()

    def line_of(self, path: Path) -> int:
        """The line of a field, or of its nearest written parent."""
        for end in range(len(path), -1, -1):
            found = self.lines.get(path[:end])
            if found is not None:
                return found
        return self.line


def _json_value(value: Any) -> Any:
    """A value as JSON carries it, which is what the API server sees: `80:` and `true:` keys become the strings
    "80" and "true", and the few YAML types JSON has no word for become what Kubernetes' decoder makes of them
    (`!!set` a mapping to nulls, `!!binary` its text, an explicit `!!timestamp` its RFC 3339 text)."""
    if isinstance(value, dict):
        return {_key(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    if isinstance(value, set):
        return {_key(k): None for k in value}
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def _key(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, bytes):
        return key.decode("utf-8", errors="replace")
    return key if isinstance(key, str) else str(key)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [child for pair in node.value for child in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_expansion(root: yaml.Node) -> None:
    """Refuse a document whose aliases would make it deeper than MAX_DEPTH, refer to a value they are inside of,
    or add more than MAX_ALIAS_VALUES values or MAX_ALIAS_CHARACTERS characters of text. Works on the composed
    nodes, where an alias is the very node it names, so the cost is that of the text, not of the expansion."""
    # node id -> (values, characters of text and height of its expansion)
    known: dict[int, tuple[int, int, int]] = {}
    open_nodes: set[int] = set()
    written = [0, 0]  # values and characters as written, each node once

    def refuse(node: yaml.Node, problem: str) -> ManifestError:
        return ManifestError(problem, node.start_mark.line + 1, node.start_mark.column + 1)

    def visit(node: yaml.Node, depth: int) -> tuple[int, int, int]:
        key = id(node)
        found = known.get(key)
        if found is None and isinstance(node, yaml.ScalarNode) and node.tag == _INT and len(node.value) > _MAX_DIGITS:
            # Python refuses to read it (and Go's int64 could not hold it)
            raise refuse(node, f"a whole number of {len(node.value):,} digits is not accepted")
        if found is None:
            if key in open_nodes:
                raise refuse(node, "an alias refers to a value it is part of")
            if depth > MAX_DEPTH:
                raise refuse(node, f"aliases nest it deeper than {MAX_DEPTH} levels, which is not accepted")
            open_nodes.add(key)
            chars = len(node.value) if isinstance(node, yaml.ScalarNode) else 0
            written[0], written[1] = written[0] + 1, written[1] + chars
            size, height = 1, 0
            for child in _children(node):
                child_size, child_chars, child_height = visit(child, depth + 1)
                size, chars, height = size + child_size, chars + child_chars, max(height, child_height + 1)
            open_nodes.discard(key)
            found = known[key] = (size, chars, height)
        if depth + found[2] > MAX_DEPTH:
            raise refuse(node, f"aliases nest it deeper than {MAX_DEPTH} levels, which is not accepted")
        return found

    size, chars, _ = visit(root, 1)
    if size - written[0] > MAX_ALIAS_VALUES:
        raise refuse(root, f"its aliases expand to more than {MAX_ALIAS_VALUES:,} values, which is not accepted")
    if chars - written[1] > MAX_ALIAS_CHARACTERS:
        raise refuse(
            root, f"its aliases expand to more than {MAX_ALIAS_CHARACTERS:,} characters of text, which is not accepted"
        )


def _walk(node: yaml.Node, path: Path, lines: dict[Path, int], duplicates: list[Path]) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.value == "<<":
                continue
            key = key_node.value
            if key in seen:
                duplicates.append((*path, key))
            seen.add(key)
            lines[(*path, key)] = key_node.start_mark.line + 1
            _walk(value_node, (*path, key), lines, duplicates)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), lines, duplicates)


def _error(err: yaml.YAMLError, text: str) -> ManifestError:
    """PyYAML's error as one line with its position."""
    if isinstance(err, yaml.MarkedYAMLError):
        mark = err.problem_mark or err.context_mark
        what = " ".join(part for part in (err.context, err.problem) if part)
        if mark is not None:
            return ManifestError(what, mark.line + 1, mark.column + 1)
        return ManifestError(what)
    if isinstance(err, yaml.reader.ReaderError):
        # A control character: the reader checks the whole text before parsing, and knows only the offset.
        before = text[: err.position]
        line, column = before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1
        return ManifestError(f"control character #x{err.character:04x} is not allowed", line, column)
    return ManifestError(" ".join(str(err).split()))


def load_documents(text: str) -> list[Document]:
    """Every document of a YAML stream (empty ones included, as None); raises ManifestError on bad YAML, on
    nesting deeper than MAX_DEPTH and on aliases that add more than MAX_ALIAS_VALUES values."""
    documents: list[Document] = []
    loader: _Loader | None = None
    try:
        loader = _Loader(text)
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            _check_expansion(node)
            lines: dict[Path, int] = {}
            duplicates: list[Path] = []
            _walk(node, (), lines, duplicates)
            data = _json_value(loader.construct_document(node))
            documents.append(Document(len(documents) + 1, node.start_mark.line + 1, data, lines, tuple(duplicates)))
    except yaml.YAMLError as err:
        raise _error(err, text) from None
    finally:
        if loader is not None:
            loader.dispose()
    return documents


def load_yaml(text: str) -> Any:
    """The one document of a YAML text (None when empty), read as `load_documents` reads it; raises
    ManifestError on bad YAML and on more than one document."""
    documents = load_documents(text)
    if len(documents) > 1:
        raise ManifestError(f"expected one document, found {len(documents)}", documents[1].line, 1)
    return documents[0].data if documents else None
