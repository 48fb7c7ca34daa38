"""Reading the files named on a command line: every command reads them here, so each failure is one line naming
the file (never a traceback), and YAML goes through the one bounded reader of `serinus.api.manifests`."""

from __future__ import annotations

import sys
from typing import Any

from serinus.api.manifests import Document, ManifestError, load_documents, load_yaml
from serinus.errors import SerinusError


class InputError(SerinusError):
    """A file named on the command line cannot be read, is not UTF-8 or is not YAML; the message names it."""


def display_name(source: str) -> str:
    """How a file is named in messages: `-` is standard input."""
    return "<stdin>" if source == "-" else source


def read_text(source: str) -> str:
    """The text of a file (`-`: standard input), which must be UTF-8, as Kubernetes' YAML is."""
    name = display_name(source)
    try:
        if source == "-":
            stdin = sys.stdin
            data = stdin.buffer.read() if hasattr(stdin, "buffer") else stdin.read().encode()
        else:
            with open(source, "rb") as handle:
                data = handle.read()
    except OSError as err:
        raise InputError(f"{name}: cannot read: {err.strerror or err}") from None
    except ValueError as err:  # a path with a NUL byte in it
        raise InputError(f"{name}: cannot read: {err}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise InputError(f"{name}: cannot read: not UTF-8 text (byte 0x{data[err.start]:02x} on line {line})") from None


def read_documents(source: str) -> list[Document]:
    """Every YAML document of a file."""
    text = read_text(source)
    try:
        return load_documents(text)
    except ManifestError as err:
        raise InputError(f"{display_name(source)}: {err}") from None


def read_objects(source: str) -> list[dict[str, Any]]:
    """The documents of a file that are mappings (objects); empty documents and bare values are left out."""
    return [doc.data for doc in read_documents(source) if isinstance(doc.data, dict)]


def read_yaml(source: str) -> Any:
    """The one YAML document of a file (None when it is empty)."""
    text = read_text(source)
    try:
        return load_yaml(text)
    except ManifestError as err:
        raise InputError(f"{display_name(source)}: {err}") from None
