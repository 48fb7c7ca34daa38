"""Alerts as Flagger words them: message, severity, and the metadata fields (the c.alert calls of Flagger's
pkg/controller/scheduler.go and scheduler_hooks.go, alertMetadata in pkg/controller/events.go)."""

from __future__ import annotations

from serinus.api import Canary, DeploymentStrategy
from serinus.engine.ports import Notice

INFO, WARN, ERROR = "info", "warn", "error"


def metadata_fields(canary: Canary) -> tuple[tuple[str, str], ...]:
    """Target, failed checks threshold, progress deadline and traffic routing (alertMetadata)."""
    ref = canary.spec.target_ref
    fields = [
        ("Target", f"{ref.kind}/{ref.name}.{canary.metadata.namespace}"),
        ("Failed checks threshold", str(canary.analysis_threshold())),
        ("Progress deadline", f"{canary.progress_deadline_seconds()}s"),
    ]
    analysis = canary.analysis_or_default()
    strategy = canary.deployment_strategy()
    if strategy is DeploymentStrategy.AB_TESTING:
        fields.append(("Traffic routing", "A/B Testing"))
    elif strategy is DeploymentStrategy.BLUE_GREEN:
        fields.append(("Traffic routing", "Blue/Green"))
    elif analysis.step_weight > 0:
        fields.append(("Traffic routing", f"Weight step: {analysis.step_weight} max: {analysis.max_weight}"))
    elif analysis.step_weights:
        steps = ",".join(str(w) for w in analysis.step_weights)
        fields.append(("Traffic routing", f"Weight steps: {steps} max: {analysis.max_weight}"))
    return tuple(fields)


def notice(canary: Canary, message: str, severity: str, *, metadata: bool = False, cluster_name: str = "") -> Notice:
    """One alert: the Cluster field first when the operator has a cluster name, then the metadata if asked."""
    fields: list[tuple[str, str]] = []
    if cluster_name:
        fields.append(("Cluster", cluster_name))
    if metadata:
        fields.extend(metadata_fields(canary))
    return Notice(message, severity, tuple(fields))
