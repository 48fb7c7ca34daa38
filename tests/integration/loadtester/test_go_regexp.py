"""--namespace-regexp answers as Flagger's Go code does: go_regexp(p).search(s) against Go's own
regexp.MustCompile(p).MatchString(s) (what Flagger's pkg/loadtester Authorizer calls), run by the real Go toolchain
over chosen cases and a few thousand generated ones."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from serinus.loadtester.config import go_regexp

pytestmark = pytest.mark.integration

# Reads [{"p": pattern, "s": [subjects]}] and prints, for each, "error" or the MatchString answers.
GO_PROGRAM = """package main

import (
	"encoding/json"
	"os"
	"regexp"
)

type check struct {
	P string   `json:"p"`
	S []string `json:"s"`
}

func main() {
	var checks []check
	if err := json.NewDecoder(os.Stdin).Decode(&checks); err != nil {
		panic(err)
	}
	answers := make([]any, 0, len(checks))
	for _, c := range checks {
		re, err := regexp.Compile(c.P)
		if err != nil {
			answers = append(answers, "error")
			continue
		}
		matches := make([]bool, 0, len(c.S))
		for _, s := range c.S {
			matches = append(matches, re.MatchString(s))
		}
		answers = append(answers, matches)
	}
	if err := json.NewEncoder(os.Stdout).Encode(answers); err != nil {
		panic(err)
	}
}
"""

SUBJECTS = [
    "test",
    "test\n",
    "xtest",
    "testx",
    "mytests",
    "\ntest",
    "test\n\n",
    "te$st",
    "te$st\n",
    "",
    "\n",
    "t\ntest",
]

CHOSEN = [
    "^test$",
    "test",
    "test$",
    "^test",
    r"^test\z",
    r"\Atest\z",
    "(?m)^test$",
    "(?m:^test$)",
    "(?m)(?-m:test$)",
    "^(test|staging)$",
    "^(?:test|x)$|^y$",
    r"^te\$st$",
    "^te[$]st$",
    r"^test\n$",
    r"^test\n?$",
    "(?s)^test.$",
    "^test.*$",
    "(?i)^TEST$",
    r"^\w+$",
    r"^\S+$",
    "$",
    "^$",
    "(?m)^$",
]

PIECES = ["t", "e", "s", "x", "test", ".", r"\$", "[$]", "[^$]", "[]x]", r"\n", r"\z", r"\A", "^", "$", " "]


def _generated(count: int, seed: int = 18) -> list[str]:
    """Patterns built from anchors, classes, groups (with and without the m flag), alternations and quantifiers."""
    rng = random.Random(seed)

    def term(depth: int) -> str:
        roll = rng.random()
        if depth < 2 and roll < 0.25:
            opener = rng.choice(["(", "(?:", "(?m:", "(?-m:", "(?s:"])
            return opener + expr(depth + 1) + ")"
        text = rng.choice(PIECES)
        if roll > 0.85 and text not in ("^", "$", r"\z", r"\A"):
            text += rng.choice(["?", "*", "+"])
        return text

    def expr(depth: int) -> str:
        branches = ["".join(term(depth) for _ in range(rng.randint(1, 4))) for _ in range(rng.choice([1, 1, 2]))]
        return "|".join(branches)

    return [rng.choice(["", "", "(?m)", "(?s)"]) + expr(0) for _ in range(count)]


@pytest.fixture(scope="module")
def go_matcher(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Go program above, built with the local Go toolchain (stdlib only: nothing is downloaded)."""
    go = shutil.which("go")
    if go is None:
        pytest.fail("go is not on PATH: scripts/test needs Go for the cluster tier and for this check")
    work = tmp_path_factory.mktemp("gomatch")
    (work / "go.mod").write_text("module gomatch\n\ngo 1.22\n")
    (work / "main.go").write_text(GO_PROGRAM)
    env = {**os.environ, "GOTOOLCHAIN": "local", "GOFLAGS": "", "CGO_ENABLED": "0"}
    built = subprocess.run(
        [go, "build", "-o", "gomatch", "."], cwd=work, env=env, capture_output=True, text=True, timeout=600
    )
    assert built.returncode == 0, built.stderr
    return work / "gomatch"


def _go_answers(binary: Path, patterns: list[str]) -> list[object]:
    checks = [{"p": p, "s": SUBJECTS} for p in patterns]
    done = subprocess.run([str(binary)], input=json.dumps(checks), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    answers: list[object] = json.loads(done.stdout)
    return answers


def _python_answers(pattern: str) -> object:
    try:
        compiled = go_regexp(pattern)
    except re.error:
        return "error"
    return [compiled.search(s) is not None for s in SUBJECTS]


def test_chosen_patterns_match_as_go(go_matcher: Path) -> None:
    """Anchored, unanchored, multi-line, `\\z`, literal `$` and flag patterns give Go's answer on every subject,
    among them "test", "test\\n", "xtest", "testx" and "mytests"."""
    for pattern, go in zip(CHOSEN, _go_answers(go_matcher, CHOSEN), strict=True):
        assert go != "error", pattern
        assert _python_answers(pattern) == go, pattern


def test_generated_patterns_match_as_go(go_matcher: Path) -> None:
    """3,000 generated patterns: wherever both Go and Python compile one, every subject gets Go's answer."""
    patterns = _generated(3000)
    compared = 0
    for pattern, go in zip(patterns, _go_answers(go_matcher, patterns), strict=True):
        ours = _python_answers(pattern)
        if go == "error" or ours == "error":
            continue
        compared += 1
        assert ours == go, pattern
    assert compared > 2500
