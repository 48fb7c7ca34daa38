"""YAML is read the way Kubernetes reads it, and every field remembers its line."""

from __future__ import annotations

import time
import tracemalloc

import pytest

from serinus.api.manifests import (
    MAX_ALIAS_CHARACTERS,
    MAX_ALIAS_VALUES,
    MAX_DEPTH,
    ManifestError,
    load_documents,
    load_yaml,
)

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


# A "billion laughs": 342 bytes whose aliases expand to 9**9 strings.
BOMB = "\n".join(
    [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        *(f"{x}: &{x} [{','.join([f'*{p}'] * 9)}]" for p, x in zip("abcdefgh", "bcdefghi", strict=True)),
        "",
    ]
)


def test_an_alias_bomb_is_refused_before_it_expands() -> None:
    """The 342-byte alias bomb is one error naming the limit, found in milliseconds and without the memory its
    expansion would take."""
    assert len(BOMB) == 342
    tracemalloc.start()
    began = time.process_time()
    try:
        with pytest.raises(ManifestError) as err:
            load_documents(BOMB)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(err.value) == (
        f"not valid YAML: its aliases expand to more than {MAX_ALIAS_VALUES:,} values, which is not accepted "
        "(line 1, column 1)"
    )
    assert time.process_time() - began < 1.0
    assert peak < 5_000_000


def test_aliases_that_add_a_few_values_are_read() -> None:
    """Anchors and aliases as people use them (a shared block, a merge key) still work."""
    (doc,) = load_documents("base: &b {interval: 1m, threshold: 5}\none: *b\ntwo: {<<: *b, threshold: 2}\n")
    assert doc.data["one"] == {"interval": "1m", "threshold": 5}
    assert doc.data["two"] == {"interval": "1m", "threshold": 2}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 5000 + "]" * 5000, f"nesting deeper than {MAX_DEPTH} levels is not accepted (line 1, column 101)"),
        ("a: " + "{b: " * 200 + "1" + "}" * 200, f"nesting deeper than {MAX_DEPTH} levels"),
        (
            "a: &a " + "[" * 70 + "1" + "]" * 70 + "\nb: &b " + "[" * 40 + "*a" + "]" * 40 + "\nc: [*b]\n",
            f"aliases nest it deeper than {MAX_DEPTH} levels",
        ),
        ("a: &a [1, *a]\n", "an alias refers to a value it is part of (line 1, column 4)"),
        (
            "a: &a " + "x" * 100_000 + "\nb: [" + ", ".join(["*a"] * 20) + "]\n",
            f"its aliases expand to more than {MAX_ALIAS_CHARACTERS:,} characters of text",
        ),
        ("a: " + "9" * 5000, "a whole number of 5,000 digits is not accepted (line 1, column 4)"),
        ("b: [1, {c: !!int 0x}]", "'0x' is not a valid !!int (line 1, column 12)"),
        ("a: !!timestamp now", "'now' is not a valid !!timestamp (line 1, column 4)"),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a\x01}\n",
            "control character #x0001 is not allowed (line 3, column 19)",
        ),
    ],
)
def test_depth_cycles_and_control_characters_are_one_line(text: str, message: str) -> None:
    """Deep nesting (written or through aliases), an alias inside itself, a number Python will not read, a wrong
    value under an explicit tag and a control character: one line naming the problem and where, never a
    RecursionError, a ValueError or a traceback from the reader."""
    with pytest.raises(ManifestError) as err:
        load_documents(text)
    assert message in str(err.value)
    assert str(err.value).startswith("not valid YAML: ")
    assert "\n" not in str(err.value)


def test_nesting_up_to_the_limit_is_read() -> None:
    """A document exactly MAX_DEPTH levels deep is fine."""
    (doc,) = load_documents("[" * (MAX_DEPTH - 1) + "1" + "]" * (MAX_DEPTH - 1))
    assert doc.data is not None


def test_scalars_kubernetes_reads_as_numbers_and_odd_tags_become_json() -> None:
    """`1e38` is a number as in Kubernetes' YAML decoder; !!set, !!binary and !!timestamp become what JSON can
    carry."""
    (doc,) = load_documents("a: 1e38\nb: -2E-3\nc: !!set {x}\nd: !!binary aGk=\ne: !!timestamp 2024-05-01\n")
    assert doc.data == {"a": 1e38, "b": -0.002, "c": {"x": None}, "d": "hi", "e": "2024-05-01"}


def test_load_yaml_reads_one_document() -> None:
    """load_yaml gives the one document, None for an empty text, and refuses a second document."""
    assert load_yaml("a: 1\n") == {"a": 1}
    assert load_yaml("# nothing\n") is None
    with pytest.raises(ManifestError, match=r"expected one document, found 2 \(line 3, column 1\)"):
        load_yaml("a: 1\n---\nb: 2\n")
