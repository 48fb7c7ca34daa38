"""`serinus query`: run every metric check of a Canary once, before a release, and show how it would be judged."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import click
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from serinus.api import Canary, MetricTemplate
from serinus.api.judge import Baseline, JudgeMode, MetricJudge, effective_judge
from serinus.api.problems import format_path, show
from serinus.cli.inputs import InputError, display_name, read_objects
from serinus.engine.judge.config import judge_config
from serinus.engine.judge.tick import judge_tick
from serinus.engine.judge.types import LedgerLine, Observation, Tick, VersionCounts
from serinus.engine.thresholds import describe
from serinus.errors import MetricsError, NoValuesFound, SerinusError
from serinus.kube.client import ClusterUnavailable, connect
from serinus.metrics.checks import MetricCheck, PlanError, plan_checks
from serinus.metrics.port import CanaryMetrics
from serinus.metrics.registry import KUBE_PROVIDERS, make_provider
from serinus.net import url_problem


class _BadOption(click.ClickException):
    """An option that cannot be used: one line, exit 2 (a usage error)."""

    exit_code = 2


def _metrics_server(_: click.Context, __: click.Parameter, value: str) -> str:
    """--metrics-server must be an http(s) URL; the value is never echoed, as it may carry credentials."""
    problem = url_problem(value) if value else None
    if problem is not None:
        raise _BadOption(f"--metrics-server is {problem}")
    return value


def _decoding(err: ValidationError) -> str:
    """The first thing the model refuses, as `field: what is wrong`."""
    first = err.errors(include_url=False)[0]
    message = first["msg"][:1].lower() + first["msg"][1:]
    return f"{format_path(tuple(first['loc']))}: {message}, got {show(first.get('input'))}"


def _name(doc: dict[str, Any]) -> str:
    meta = doc.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    return name if isinstance(name, str) and name else "<no name>"


def _load(
    canary_file: str, template_files: tuple[str, ...]
) -> tuple[Canary, dict[tuple[str, str], MetricTemplate], dict[tuple[str, str], dict[str, Any]]]:
    """The Canary, and the MetricTemplates and Secrets of --templates; a ClickException naming the file (and the
    field) for anything that cannot be used."""
    try:
        docs = [d for d in read_objects(canary_file) if d.get("kind") == "Canary"]
        if not docs:
            raise click.ClickException(f"{display_name(canary_file)}: no Canary in this file")
        try:
            canary = Canary.model_validate(docs[0])
        except ValidationError as err:
            raise click.ClickException(
                f"{display_name(canary_file)}: canary {_name(docs[0])}: {_decoding(err)}"
            ) from None
        templates: dict[tuple[str, str], MetricTemplate] = {}
        secrets: dict[tuple[str, str], dict[str, Any]] = {}
        for path in template_files:
            for doc in read_objects(path):
                meta = doc.get("metadata")
                meta = meta if isinstance(meta, dict) else {}
                key = (str(meta.get("namespace") or canary.metadata.namespace or "default"), str(meta.get("name")))
                if doc.get("kind") == "MetricTemplate":
                    try:
                        templates[key] = MetricTemplate.model_validate(doc)
                    except ValidationError as err:
                        raise click.ClickException(
                            f"{display_name(path)}: metrictemplate {_name(doc)}: {_decoding(err)}"
                        ) from None
                elif doc.get("kind") == "Secret":
                    secrets[key] = doc
    except InputError as err:
        raise click.ClickException(str(err)) from None
    return canary, templates, secrets


def _cluster(plans: list[MetricCheck | PlanError]) -> Any:
    """A Kubernetes client from the kubeconfig, when a check reads the Kubernetes API; None without one."""
    if not any(
        isinstance(p, MetricCheck) and p.provider.type in KUBE_PROVIDERS and not p.provider.address for p in plans
    ):
        return None
    try:
        return connect()  # the operator's client: every request over within its deadline
    except (ClusterUnavailable, OSError):  # no kubeconfig, or its certificate files cannot be read
        return None


async def _run(check: MetricCheck, cluster: Any) -> tuple[str, str, bool]:
    """(value shown, verdict, passed) of one check."""
    try:
        provider = make_provider(check.provider, cluster=cluster)
    except SerinusError as err:
        return str(err), "error", False
    try:
        raw = await provider.query(check.query)
    except NoValuesFound:
        return "no values found", "halt", False
    except MetricsError as err:
        return str(err), "error", False
    finally:
        await provider.close()
    value = check.judged_value(raw)
    passed = check.passes(raw)
    return f"{value:g}", "pass" if passed else "fail", passed


@click.command("query", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("canary_file", metavar="CANARY.yaml")
@click.option(
    "--metrics-server",
    default="",
    envvar="SERINUS_METRICS_SERVER",
    show_envvar=True,
    callback=_metrics_server,
    help="Prometheus for built-in and inline metrics (default: the Canary's, else http://prometheus:9090).",
)
@click.option(
    "--mesh-provider",
    default="istio",
    show_default=True,
    envvar="SERINUS_MESH_PROVIDER",
    show_envvar=True,
    help="Global provider, which picks the built-in queries when the Canary has none.",
)
@click.option(
    "--templates",
    "template_files",
    multiple=True,
    metavar="FILE",
    help="YAML with MetricTemplates (and the Secrets they reference); repeatable.",
)
@click.option(
    "--output",
    "-o",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="A table for people, or one JSON object per check for scripts.",
)
def query(
    canary_file: str, metrics_server: str, mesh_provider: str, template_files: tuple[str, ...], output: str
) -> None:
    """Render every metric of a Canary, run each query once, and print value, accepted range and verdict.

    Exits 1 when any check would fail, find no data or error, so it can gate a pipeline.
    """
    canary, templates, secrets = _load(canary_file, template_files)
    try:
        analysis = canary.analysis_or_default()
        judge, metric_judges = effective_judge(
            analysis.judge, {m.name: m.judge for m in analysis.metrics}, canary.metadata.annotations
        )
    except (SerinusError, ValidationError, ValueError) as err:
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise click.ClickException(f"{display_name(canary_file)}: canary {canary.metadata.name}: {message}") from None

    plans = plan_checks(
        canary, mesh_provider=mesh_provider, metrics_server=metrics_server, templates=templates, secrets=secrets
    )
    rows = asyncio.run(_run_all(plans))
    if output == "json":
        for row in rows:
            click.echo(json.dumps(dict(zip(("metric", "query", "value", "accepted", "verdict"), row[:5], strict=True))))
    else:
        table = Table(title=f"canary {canary.metadata.name}.{canary.metadata.namespace or 'default'}")
        for column in ("metric", "query", "value", "accepted", "verdict"):
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*row[:5])
        Console(width=160).print(table)
    if judge is not None and judge.mode is JudgeMode.STATISTICAL:
        window_s = canary.analysis_interval_seconds()
        observations = asyncio.run(
            _observe_all(plans, canary, metric_judges, window_s, judge.baseline is not Baseline.NONE)
        )
        ledger = _one_tick(canary, observations, window_s)
        if output == "json":
            for obs in observations:
                doc = observation_json(obs, window_s)
                line = ledger.get(obs.metric)
                if line is not None:
                    doc["judge"]["ledger"] = line.to_json()
                click.echo(json.dumps(doc))
        else:
            click.echo("\n".join(judge_lines(observations, window_s, ledger)))
    if not all(row[5] for row in rows):
        sys.exit(1)


async def _run_all(plans: list[MetricCheck | PlanError]) -> list[tuple[str, str, str, str, str, bool]]:
    rows = []
    cluster = _cluster(plans)
    for plan in plans:
        if isinstance(plan, PlanError):
            rows.append((plan.metric.name, "", str(plan.error), "", "error", False))
            continue
        value, verdict, passed = await _run(plan, cluster)
        accepted = describe(plan.metric.threshold_range, plan.metric.threshold, plan.kind)
        rows.append((plan.metric.name, " ".join(plan.query.split()), value, accepted, verdict, passed))
    return rows


async def _observe_all(
    plans: list[MetricCheck | PlanError],
    canary: Canary,
    judges: dict[str, MetricJudge],
    window_s: float,
    baseline: bool,
) -> list[Observation]:
    """What the statistical judge would read now for every metric: counts over the last analysis interval."""
    metrics = CanaryMetrics(
        plans, observer="", namespace=canary.metadata.namespace or "default", cluster=_cluster(plans), judges=judges
    )
    return [await metrics.observe(plan.metric, window_s, baseline) for plan in plans]


def _one_tick(canary: Canary, observations: list[Observation], window_s: float) -> dict[str, LedgerLine]:
    """The judge's ledger line per metric for these counts, as if they were the first interval of a run (no
    earlier evidence, no routed weight to compare the traffic split with)."""
    try:
        config = judge_config(canary)
    except ValueError:
        return {}
    if config is None:
        return {}
    result = judge_tick(config, None, Tick(at=0.0, window_s=window_s, weight=0, at_gate=False), observations)
    return {line.metric: line for line in result.lines}


def _counts_text(counts: VersionCounts) -> str:
    parts = []
    if counts.requests is not None or counts.bad is not None:
        parts.append(f"requests={_num(counts.requests)} bad={_num(counts.bad)}")
    if counts.buckets:
        parts.append("buckets(ms)=" + " ".join(f"{_num(le)}:{_num(n)}" for le, n in counts.buckets))
    if counts.value is not None:
        parts.append(f"value={_num(counts.value)}")
    return " ".join(parts) or "no data"


def _num(value: float | None) -> str:
    if value is None:
        return "none"
    return "+Inf" if value == float("inf") else f"{value:.6g}"


def judge_lines(
    observations: list[Observation], window_s: float, ledger: dict[str, LedgerLine] | None = None
) -> list[str]:
    """The statistical judge's view of each metric, as text: its test, each version's counts over the window,
    the ledger line the judge would write for them, and the queries that produced them (the canary's first)."""
    lines = [f"statistical judge: counts over the last {window_s:g}s (the analysis interval)"]
    for obs in observations:
        lines.append(f"{obs.metric} ({obs.kind})")
        if obs.error is not None:
            lines.append(f"  error: {obs.error}")
        else:
            lines.append(f"  canary:  {_counts_text(obs.canary)}")
            lines.append(f"  primary: {_counts_text(obs.primary) if obs.primary is not None else 'no baseline'}")
        line = (ledger or {}).get(obs.metric)
        if line is not None:
            lines.append(
                f"  judge:   {line.verdict}: {line.reason} (rollback evidence {line.e_fail:.3g}:1 of "
                f"{line.fail_threshold:.3g}:1, promotion evidence {line.e_pass:.3g}:1 of "
                f"{line.pass_threshold:.3g}:1)"
            )
        lines.extend(f"  query: {query}" for query in obs.queries)
    return lines


def _counts_json(counts: VersionCounts | None) -> dict[str, Any] | None:
    if counts is None:
        return None
    return {
        "requests": counts.requests,
        "bad": counts.bad,
        "value": counts.value,
        "buckets": [[_num(le) if le == float("inf") else le, n] for le, n in counts.buckets],
    }


def observation_json(obs: Observation, window_s: float) -> dict[str, Any]:
    """One metric's judge data as a JSON object (`-o json`, after the checks)."""
    return {
        "metric": obs.metric,
        "judge": {
            "kind": obs.kind,
            "windowSeconds": window_s,
            "canary": _counts_json(obs.canary),
            "primary": _counts_json(obs.primary),
            "error": obs.error,
            "queries": list(obs.queries),
        },
    }
