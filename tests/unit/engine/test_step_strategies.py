"""A/B testing, blue/green, the kubernetes provider, skipAnalysis, suspend, readiness and the progress deadline,
change detection and status rules (Flagger's pkg/controller/scheduler.go runAB, runBlueGreen, shouldSkipAnalysis,
checkCanaryStatus and rollback; pkg/canary/deployment_ready.go isDeploymentReady; pkg/canary/spec.go
hasSpecChanged)."""

from __future__ import annotations

import asyncio

from serinus.api import CanaryPhase
from serinus.sim.runner import build
from serinus.sim.scenario import parse_scenario
from tests.unit.engine.simkit import at, canary, canary_weights, messages, run, warnings

NS = "podinfo.test"
MATCH = [{"headers": {"x-canary": {"exact": "insider"}}}]


def test_ab_testing_routes_matching_traffic_for_each_iteration() -> None:
    """match + iterations 3: all matched traffic to the canary, iterations 1/3..3/3, then promotion."""
    result = run(canary({"iterations": 3, "match": MATCH}))
    expected = [f"Advance {NS} canary iteration {i}/3" for i in (1, 2, 3)]
    assert [m for m in messages(result) if "iteration" in m] == expected
    assert canary_weights(result) == [100, 0]
    assert result.phase == "Succeeded"


def test_blue_green_serves_all_traffic_from_the_canary_for_one_interval_before_promotion() -> None:
    """iterations 2 on a mesh: two iterations, then 'Routing all traffic to canary', then the copy."""
    result = run(canary({"iterations": 2}))
    order = [m for m in messages(result) if "iteration" in m or "Routing" in m or "Copying" in m]
    assert order == [
        f"Advance {NS} canary iteration 1/2",
        f"Advance {NS} canary iteration 2/2",
        "Routing all traffic to canary",
        f"Copying {NS} template spec to podinfo-primary.test",
        "Routing all traffic to primary",
    ]
    copied = at(result, f"Copying {NS} template spec to podinfo-primary.test")
    assert copied - at(result, "Routing all traffic to canary") == 60
    assert canary_weights(result) == [100, 0]


def test_blue_green_mirroring() -> None:
    """mirror with iterations: traffic is mirrored during the iterations, then switched."""
    result = run(canary({"iterations": 2, "mirror": True}))
    assert [(w.canary, w.mirrored) for w in result.weights] == [(0, True), (100, False), (0, False)]
    assert "Stop traffic mirroring and route all traffic to canary" in messages(result)


def test_kubernetes_provider_turns_weights_into_ten_iterations() -> None:
    """provider kubernetes with stepWeight: Flagger's two warnings, then blue/green with 10 iterations."""
    result = run(canary({"stepWeight": 10, "match": MATCH}, provider="kubernetes"))
    assert warnings(result)[:3] == [
        "A/B testing is not supported when using the kubernetes provider",
        "Progressive traffic is not supported when using the kubernetes provider",
        "Setting canaryAnalysis.iterations: 10",
    ]
    assert f"Advance {NS} canary iteration 10/10" in messages(result)
    assert "Routing all traffic to canary" not in messages(result)
    assert result.phase == "Succeeded"


def test_skip_analysis_promotes_at_once() -> None:
    """skipAnalysis: the new revision is copied to the primary without checks, even with failing metrics."""
    c = canary(
        {"stepWeight": 10, "metrics": [{"name": "e", "query": "x", "thresholdRange": {"max": 0}}]}, skipAnalysis=True
    )
    result = run(c, {"metrics": {"e": [{"at": 0, "value": 9}]}})
    assert messages(result)[-2:] == [
        f"Copying {NS} template spec to podinfo-primary.test",
        f"Promotion completed! Canary analysis was skipped for {NS}",
    ]
    assert "all the metrics providers are available!" not in messages(result)
    assert result.alerts[-1].message == "Canary analysis was skipped, promotion finished."
    assert result.phase == "Succeeded"


def test_suspend_skips_every_step() -> None:
    """suspend: each step only says it is skipping; nothing is initialized."""
    result = run(canary({"stepWeight": 10}, suspend=True), {"duration": "5m"})
    assert set(messages(result)) == {"skipping canary run as object is suspended"}
    assert result.canary.status.phase == CanaryPhase.INITIALIZING


def test_canary_stuck_past_the_progress_deadline_is_rolled_back() -> None:
    """The canary never becomes ready: retriable not-ready warnings, then after the deadline a rollback."""
    c = canary({"stepWeight": 10}, progressDeadlineSeconds=120)
    result = run(c, {"ready": {"canary": [{"at": 0, "ready": False}]}})
    waiting = [m for m in warnings(result) if "waiting for rollout to finish" in m]
    assert waiting
    assert all(m.startswith(f"canary deployment {NS} not ready") for m in waiting)
    assert f'canary deployment {NS} not ready: deployment "podinfo" exceeded its progress deadline' in warnings(result)
    assert warnings(result)[-1] == f"Canary failed! Scaling down {NS}"
    assert result.phase == "Failed"
    assert result.weights == ()  # traffic never reached the canary


def test_primary_stuck_during_promotion_is_restored_and_takes_all_traffic_back() -> None:
    """The primary's rollout fails during Promoting: 'Promotion failed', the primary restored to its spec before
    the promotion, all traffic to it, Failed (issue #22 item 4; without a kept spec all traffic goes to the canary
    instead: test_step_promotion_stall.py)."""
    c = canary({"stepWeight": 50}, progressDeadlineSeconds=60)
    primary = [{"at": 0, "ready": True}, {"at": "181s", "ready": False}]
    result = run(c, {"rollout": "30s", "ready": {"primary": primary}})
    failed = [m for m in warnings(result) if m.startswith("Promotion of podinfo.test failed, primary not ready")]
    assert failed
    assert "Restored podinfo-primary.test to its spec before the promotion, routing all traffic to primary" in (
        warnings(result)
    )
    assert result.weights[-1].canary == 0
    assert result.weights[-1].primary == 100
    assert result.phase == "Failed"
    assert result.canary.status.canary_weight == 0
    assert result.alerts[-1].severity == "error"


def test_manual_revert_to_the_promoted_spec_starts_no_run() -> None:
    """After a promotion, putting back the previously promoted template is not a new revision, as in Flagger."""

    async def scenario() -> list[str]:
        c = canary({"stepWeight": 50})
        engine, cluster = build(c, parse_scenario({}, c))
        cluster.canary.status = cluster.canary.status.model_copy(update={"phase": CanaryPhase.INITIALIZING})
        t = 0
        for revision in (0, 0, 1, 1, 1, 1, 1, 1):  # init at 0, then release revision 1 to Succeeded
            cluster.revision = revision
            cluster.clock.set(t)
            await engine.advance("podinfo", "test")
            t += 60
        assert cluster.canary.status.phase is CanaryPhase.SUCCEEDED
        promoted = cluster.canary.status.last_promoted_spec
        cluster.revision = 2  # a bad change ... rolled back by hand to revision 1 before the next step
        cluster.revision = 1
        for _ in range(3):
            cluster.clock.set(t)
            await engine.advance("podinfo", "test")
            t += 60
        assert cluster.canary.status.last_promoted_spec == promoted
        return [e.message for e in cluster.events]

    found = asyncio.run(scenario())
    assert found.count(f"New revision detected! Scaling up {NS}") == 1


def test_status_after_a_promotion() -> None:
    """Succeeded: weight 0, counters reset, the applied spec is the promoted one, Promoted=True/Succeeded."""
    status = run(canary({"stepWeight": 50})).canary.status
    assert (status.canary_weight, status.failed_checks, status.iterations) == (0, 0, 0)
    assert status.last_applied_spec
    assert status.last_applied_spec == status.last_promoted_spec
    condition = status.conditions[0]
    assert (condition.type, condition.status, condition.reason) == ("Promoted", "True", "Succeeded")
    assert condition.message == "Canary analysis completed successfully, promotion finished."


def test_hook_payloads_carry_the_phase_flagger_sends() -> None:
    """pre-rollout is told Progressing, post-rollout Succeeded; every payload carries name, namespace, checksum."""

    async def calls() -> list[tuple[str, str]]:
        c = canary(
            {
                "stepWeight": 50,
                "webhooks": [
                    {"name": "pre", "type": "pre-rollout", "url": "http://h/pre"},
                    {"name": "post", "type": "post-rollout", "url": "http://h/post", "metadata": {"k": "v"}},
                ],
            }
        )
        engine, cluster = build(c, parse_scenario({}, c))
        cluster.canary.status = cluster.canary.status.model_copy(update={"phase": CanaryPhase.INITIALIZING})
        for i in range(8):
            cluster.revision = 0 if i == 0 else 1
            cluster.clock.set(i * 60)
            await engine.advance("podinfo", "test")
        for call in cluster.hook_calls:
            assert {"name", "namespace", "phase", "checksum"} <= set(call.payload)
            assert call.payload["name"] == "podinfo"
        assert cluster.hook_calls[-1].payload["metadata"] == {"k": "v"}
        return [(c.name, str(c.payload["phase"])) for c in cluster.hook_calls]

    assert asyncio.run(calls()) == [("pre", "Progressing"), ("post", "Succeeded")]
