"""YAML manifests as Kubernetes reads them, with the line of every field so problems can point at it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from serinus.api.problems import Path
from serinus.errors import InvalidSpecError

_TIMESTAMP = "tag:yaml.org,2002:timestamp"


class ManifestError(InvalidSpecError):
    """Text that is not YAML; the message is one line and names the line and column."""


class _Loader(yaml.SafeLoader):
    """YAML 1.1 like Kubernetes' decoder, but timestamps stay text: the API server sees them as strings."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


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


def _json_keys(value: Any) -> Any:
    """Map keys as JSON has them: Kubernetes turns `80:` and `true:` into the strings "80" and "true"."""
    if isinstance(value, dict):
        return {_key(k): _json_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_keys(v) for v in value]
    return value


def _key(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    return key if isinstance(key, str) else str(key)


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


def _one_line(err: yaml.YAMLError) -> str:
    if isinstance(err, yaml.MarkedYAMLError):
        mark = err.problem_mark or err.context_mark
        what = " ".join(part for part in (err.context, err.problem) if part)
        if mark is not None:
            return f"not valid YAML: {what} (line {mark.line + 1}, column {mark.column + 1})"
        return f"not valid YAML: {what}"
    return f"not valid YAML: {' '.join(str(err).split())}"


def load_documents(text: str) -> list[Document]:
    """Every document of a YAML stream (empty ones included, as None); raises ManifestError on bad YAML."""
    loader = _Loader(text)
    documents: list[Document] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            lines: dict[Path, int] = {}
            duplicates: list[Path] = []
            _walk(node, (), lines, duplicates)
            data = _json_keys(loader.construct_document(node))
            documents.append(Document(len(documents) + 1, node.start_mark.line + 1, data, lines, tuple(duplicates)))
    except yaml.YAMLError as err:
        raise ManifestError(_one_line(err)) from None
    finally:
        loader.dispose()
    return documents
