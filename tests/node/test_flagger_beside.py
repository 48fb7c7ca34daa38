"""Flagger 1.44 beside Serinus on the real node: the Traefik tutorial Canary released at the same moment in two
namespaces, Serinus's chart Pod driving one and Flagger driving the other, each with real requests through Traefik.
Both must produce the same events, the same final status, route and primary, and traffic shares matching the
weights (see tests/node/beside.py for how the two are kept apart)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.node.beside import FOREIGN_REASON, Pair, Release, release_both, side_by_side
from tests.node.edge import Edge
from tests.node.installed import Installed
from tests.node.podinfo import Canary, in_order
from tests.node.realnode import RealNode

#: how far the share of answers from the canary may be from its weight, in percentage points
SHARE_TOLERANCE = 5.0
SERINUS_MANAGER, FLAGGER_MANAGER = "serinus", "flagger"


@pytest.fixture(scope="module")
def pair(node: RealNode, edge: Edge, serinus: Installed) -> Iterator[Pair]:
    """Serinus scoped to one namespace, Flagger to another, podinfo v1 Initialized in both."""
    with side_by_side(node, edge, serinus) as both:
        yield both


def _finished(found: dict[str, Release], want: str) -> tuple[Release, Release]:
    serinus, flagger = found["serinus"], found["flagger"]
    for release in (serinus, flagger):
        print(f"{release.system}: {release.phase} in {release.seconds:.1f} s, status {release.status}")
        print(f"  late answers (s after the phase, version): {release.late}; errors: {release.errors_during}")
        print(f"  {release.combined} events '(combined from similar events)'; events compared:")
        print("\n".join(f"  {e}" for e in release.events))
        assert not release.error, f"{release.system}'s release broke: {release.error}"
        assert release.phase == want, f"{release.system} ended {release.phase!r}, not {want}: {release.events}"
        assert FOREIGN_REASON not in release.reasons, f"{release.system}'s Canary was touched by the other controller"
    return serinus, flagger


def _managers(pair: Pair, system: str) -> set[str]:
    """The field managers that wrote the Canary's status in `system`'s namespace."""
    raw = pair.sides[system].client.get(Canary, "podinfo")
    entries = (raw.metadata.managedFields if raw.metadata else None) or []
    return {str(e.manager) for e in entries if e.subresource == "status"}


def test_flagger_and_serinus_promote_the_same_healthy_version_alike(pair: Pair) -> None:
    """podinfo v2 released at once in both namespaces is promoted by both through 10 to 50 %: the same events in the
    same order, the same status, Promoted condition, TraefikService weights and primary; at each weight the share of
    real answers from the canary is within 5 points for both; from 3 s after Succeeded (Traefik's reload throttle) only
    v2 answers; neither controller wrote the other's Canary."""
    serinus, flagger = _finished(release_both(pair, "v2", "Succeeded"), "Succeeded")
    print(f"change to Succeeded: serinus {serinus.seconds:.1f} s, flagger {flagger.seconds:.1f} s")
    expected = [
        "New revision detected! Scaling up podinfo.NS",
        "Starting canary analysis for podinfo.NS",
        "Advance podinfo.NS canary weight 10",
        "Advance podinfo.NS canary weight 50",
        "Copying podinfo.NS template spec to podinfo-primary.NS",
        "Routing all traffic to primary",
        "Promotion completed! Scaling down podinfo.NS",
    ]
    assert in_order(flagger.events, expected), "\n".join(flagger.events)
    assert serinus.events == flagger.events
    assert serinus.status == flagger.status
    assert serinus.condition == flagger.condition
    assert serinus.route == flagger.route
    assert serinus.primary == flagger.primary
    assert serinus.primary["env"]["PODINFO_UI_MESSAGE"] == "v2"
    for release in (serinus, flagger):
        assert release.after, f"{release.system}: no answer after the promotion"
        assert set(release.after) == {"v2"}, f"{release.system}: after promotion {sorted(set(release.after))}"
        assert release.traffic is not None
        shares = release.traffic.shares("v2")
        print(f"{release.system} (weight, % from the canary, answers):", [(w, round(p, 1), n) for w, p, n in shares])
        assert {w for w, _, _ in shares if 0 < w < 100} >= {10, 20, 30, 40, 50}, f"{release.system}: {shares}"
        off = [(w, round(p, 1), n) for w, p, n in shares if 0 < w < 100 and abs(p - w) > SHARE_TOLERANCE]
        assert off == [], f"{release.system}: beyond {SHARE_TOLERANCE} points: {off} of {shares}"
    assert FLAGGER_MANAGER not in _managers(pair, "serinus")
    assert SERINUS_MANAGER not in _managers(pair, "flagger")


def test_flagger_and_serinus_roll_back_the_same_failing_version_alike(pair: Pair) -> None:
    """A version answering 5xx at random (podinfo's PODINFO_RANDOM_ERROR) released at once in both namespaces is
    rolled back by both after 2 failed success-rate checks: the same events (measured rates aside), the same status,
    condition, TraefikService weights and primary; from 3 s after Failed only the previous version answers."""
    bad = [{"name": "PODINFO_RANDOM_ERROR", "value": "true"}]
    serinus, flagger = _finished(release_both(pair, "v3", "Failed", bad), "Failed")
    print(
        f"change to Failed: serinus {serinus.seconds:.1f} s, flagger {flagger.seconds:.1f} s; requests to the "
        f"failing canary: serinus {serinus.canary_requests:.0f}, flagger {flagger.canary_requests:.0f}; host answers "
        f"from it: serinus {serinus.canary_answers}, flagger {flagger.canary_answers}"
    )
    expected = [
        "New revision detected! Scaling up podinfo.NS",
        "Starting canary analysis for podinfo.NS",
        "Advance podinfo.NS canary weight 10",
        "Rolling back podinfo.NS failed checks threshold reached 2",
        "Canary failed! Scaling down podinfo.NS",
    ]
    assert in_order(flagger.events, expected), "\n".join(flagger.events)
    assert any(e.startswith("Halt podinfo.NS advancement success rate X < 99%") for e in flagger.events)
    assert serinus.events == flagger.events
    assert serinus.status == flagger.status
    assert serinus.status["canaryWeight"] == 0
    assert serinus.condition == flagger.condition
    assert serinus.route == flagger.route
    assert serinus.primary == flagger.primary
    previous = serinus.primary["env"]["PODINFO_UI_MESSAGE"]
    for release in (serinus, flagger):
        assert release.canary_requests > 0, f"{release.system}: Traefik sent nothing to the failing canary"
        answered = [t for t in release.after if not t.startswith("error")]
        assert answered, f"{release.system}: no answer after the rollback"
        assert set(answered) == {previous}, f"{release.system}: after the rollback {sorted(set(answered))}"
