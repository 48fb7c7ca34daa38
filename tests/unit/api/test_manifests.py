"""YAML is read the way Kubernetes reads it, and every field remembers its line."""

from __future__ import annotations

import pytest

from serinus.api.manifests import ManifestError, load_documents

TEXT = """\
apiVersion: flagger.app/v1beta1
kind: Canary
metadata:
  name: podinfo
spec:
  analysis:
    stepWeights:
    - 20
    - 10
---
---
status:
  lastTransitionTime: 2024-05-01T10:00:00Z
80: port
true: yes
"""


def test_documents_lines_and_empty_documents() -> None:
    """Each document knows its number and first line; empty documents are kept as None."""
    docs = load_documents(TEXT)
    assert [(d.index, d.line) for d in docs] == [(1, 1), (2, 11), (3, 12)]
    assert docs[1].data is None


def test_field_lines_point_at_keys_and_items() -> None:
    """A field path maps to the line of its key, a list item to its own line, unknown paths to the nearest parent."""
    doc = load_documents(TEXT)[0]
    assert doc.line_of(("spec", "analysis", "stepWeights")) == 7
    assert doc.line_of(("spec", "analysis", "stepWeights", 1)) == 9
    assert doc.line_of(("spec", "analysis", "interval")) == 6
    assert doc.line_of(()) == 1


def test_scalars_follow_the_api_servers_json() -> None:
    """Timestamps stay strings, non-string keys become strings, YAML 1.1 yes is true."""
    data = load_documents(TEXT)[2].data
    assert data == {"status": {"lastTransitionTime": "2024-05-01T10:00:00Z"}, "80": "port", "true": True}


def test_duplicate_keys_are_noted() -> None:
    """A key written twice is reported with its path (YAML keeps the last value)."""
    (doc,) = load_documents("a: 1\nb:\n  c: 1\n  c: 2\n")
    assert doc.duplicates == (("b", "c"),)
    assert doc.data == {"a": 1, "b": {"c": 2}}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "a: [1, 2",
            "not valid YAML: while parsing a flow sequence expected ',' or ']', but got '<stream end>' "
            "(line 1, column 9)",
        ),
        ("a: b: c", "not valid YAML: mapping values are not allowed here (line 1, column 5)"),
        (
            "\tkey: 1",
            "not valid YAML: while scanning for the next token found character '\\t' that cannot start any "
            "token (line 1, column 1)",
        ),
    ],
)
def test_bad_yaml_is_one_line(text: str, message: str) -> None:
    """Broken YAML raises one line naming the problem, line and column."""
    with pytest.raises(ManifestError) as err:
        load_documents(text)
    assert str(err.value) == message
    assert "\n" not in str(err.value)
