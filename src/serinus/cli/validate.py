"""`serinus validate FILE...`: check Canary, MetricTemplate and AlertProvider manifests before applying them."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import click

from serinus.api.check import (
    ObjectReport,
    check_object,
    context_for,
    is_flagger_object,
    is_kubernetes_object,
    is_near_flagger_object,
)
from serinus.api.manifests import Document
from serinus.api.problems import Path, Problem, Severity, format_path
from serinus.api.rules import DEFAULT_SELECTOR_LABELS, RuleContext
from serinus.cli.inputs import InputError, display_name, read_documents


@dataclass(frozen=True)
class _Object:
    """A Kubernetes object found in a file, with where it is."""

    source: str
    document: Document
    #: Path of the object inside its document: () or ("items", n) inside a List.
    prefix: Path
    data: Mapping[str, Any]

    def line_of(self, path: Path) -> int:
        return self.document.line_of((*self.prefix, *path))


@dataclass(frozen=True)
class _Note:
    """A line about a file rather than an object; `fails` makes the run fail."""

    text: str
    fails: bool = True


def _label(report: ObjectReport) -> str:
    name = report.name or "<no name>"
    where = f" ({report.namespace})" if report.namespace else ""
    return f"{report.kind.lower()}/{name}{where}"


def _objects(source: str, document: Document) -> Iterator[_Object | str]:
    """The objects of one document (a List is opened up), or a one-line complaint."""
    data = document.data
    if data is None:
        return
    if not is_kubernetes_object(data):
        yield f"document {document.index} is not a Kubernetes object (a mapping with apiVersion and kind)"
        return
    if str(data["kind"]).endswith("List") and isinstance(data.get("items"), list):
        for index, item in enumerate(data["items"]):
            if not is_kubernetes_object(item):
                yield f"item {index} of document {document.index} is not a Kubernetes object"
            else:
                yield _Object(source, document, ("items", index), item)
        return
    yield _Object(source, document, (), data)


def _problem_line(obj: _Object, report: ObjectReport, problem: Problem, verbose: bool) -> str:
    severity = click.style("warning: ", fg="yellow") if problem.severity is Severity.WARNING else ""
    line = f"{obj.source}:{obj.line_of(problem.path)}: {_label(report)}: {severity}{problem.where}: {problem.message}"
    if verbose and problem.rule:
        line += f" [{problem.rule}]"
    if verbose and problem.flagger_message:
        line += f" (Flagger: {problem.flagger_message})"
    return line


@click.command("validate", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@click.option(
    "--mesh-provider",
    default="istio",
    show_default=True,
    metavar="PROVIDER",
    help="The operator's default provider, used for Canaries without spec.provider.",
)
@click.option(
    "--no-cross-namespace-refs",
    is_flag=True,
    help="Reject references to MetricTemplates, AlertProviders and Upstreams in other namespaces, "
    "as the operator does with this flag.",
)
@click.option(
    "--selector-labels",
    default=",".join(DEFAULT_SELECTOR_LABELS),
    show_default=True,
    metavar="KEYS",
    help="The operator's pod selector label keys, checked against target workloads given alongside.",
)
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
@click.option("-v", "--verbose", is_flag=True, help="Also name each check and quote Flagger's own error text.")
def validate(
    files: tuple[str, ...],
    mesh_provider: str,
    no_cross_namespace_refs: bool,
    selector_labels: str,
    strict: bool,
    verbose: bool,
) -> None:
    """Check Flagger manifests: the CRD schema, and the rules Flagger only enforces at run time.

    FILE may hold many YAML documents (and Lists); `-` reads standard input. Prints one line per valid object
    and one line per problem (file:line: kind/name (namespace): field: what is wrong). Exits 1 when any object
    is invalid or a file cannot be read. MetricTemplates and target workloads given in any FILE are used to
    check the Canaries that reference them.
    """
    failed = False
    # Everything is read first, so a Canary can be checked against MetricTemplates from any of the files.
    entries: list[_Object | _Note] = []
    for source in files:
        name = display_name(source)
        try:
            documents = read_documents(source)
        except InputError as err:
            entries.append(_Note(str(err)))
            continue
        before = len(entries)
        for document in documents:
            entries += [
                _Note(
                    f"{name}:{document.line_of(duplicate)}: {click.style('warning: ', fg='yellow')}"
                    f"{format_path(duplicate)}: is written twice; the last value is used",
                    fails=False,
                )
                for duplicate in document.duplicates
            ]
            for item in _objects(name, document):
                entries.append(item if isinstance(item, _Object) else _Note(f"{name}:{document.line}: {item}"))
        if len(entries) == before:
            entries.append(_Note(f"{name}: no Kubernetes objects found", fails=False))
    context = context_for(
        [e.data for e in entries if isinstance(e, _Object)],
        mesh_provider=mesh_provider,
        no_cross_namespace_refs=no_cross_namespace_refs,
        selector_labels=[label.strip() for label in selector_labels.split(",") if label.strip()],
    )
    for entry in entries:
        if isinstance(entry, _Note):
            click.echo(entry.text)
            failed = failed or entry.fails
        elif not (is_flagger_object(entry.data) or is_near_flagger_object(entry.data)):
            if verbose:
                click.echo(
                    f"{entry.source}:{entry.line_of(())}: {entry.data['apiVersion']} {entry.data['kind']}: "
                    "skipped, not a flagger.app object"
                )
        elif not _report(entry, context, strict=strict, verbose=verbose):
            failed = True
    if failed:
        sys.exit(1)


def _report(obj: _Object, context: RuleContext, *, strict: bool, verbose: bool) -> bool:
    """Print the verdict on one object; True when it passes."""
    report = check_object(obj.data, context)
    for problem in sorted(report.problems, key=lambda p: (obj.line_of(p.path), not p.is_error)):
        click.echo(_problem_line(obj, report, problem, verbose))
    if report.valid and not (strict and report.warnings):
        click.echo(f"{_label(report)}: {click.style('valid', fg='green')}")
        return True
    return False
