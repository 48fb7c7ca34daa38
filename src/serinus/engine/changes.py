"""Has the release target changed? Flagger's spec hash and config-tracking rules (hasSpecChanged and ComputeHash in
pkg/canary/spec.go, ConfigTracker.HasConfigChanged in pkg/canary/config_tracker.go)."""

from __future__ import annotations

import json
from collections.abc import Mapping

from serinus.api import CanaryStatus

#: the alphabet Kubernetes' rand.SafeEncodeString uses, so hashes look like Flagger's (`85d557f47b`)
_SAFE = "bcdfghjklmnpqrstvwxz2456789"


def _fnv32a(data: bytes) -> int:
    value = 0x811C9DC5
    for byte in data:
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


def compute_hash(obj: object) -> str:
    """A short, stable hash of a JSON-like object: FNV-32a of its canonical JSON, safe-encoded.

    Flagger hashes Go's printout of its structs, which Python cannot reproduce; the shape of the result is the
    same, and so is the property that matters: equal specs, equal hashes.
    """
    canonical = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str).encode()
    return "".join(_SAFE[ord(ch) % len(_SAFE)] for ch in str(_fnv32a(canonical)))


def has_spec_changed(status: CanaryStatus, spec_hash: str) -> bool:
    """Flagger's hasSpecChanged: a first sync, or a hash that is neither the applied nor the promoted one.

    Going back to the promoted spec (a manual revert) is not a change, so it does not start a run.
    """
    if not status.last_applied_spec:
        return True
    if status.last_promoted_spec == spec_hash:
        return False
    return status.last_applied_spec != spec_hash


def has_config_changed(current: Mapping[str, str] | None, tracked: Mapping[str, str] | None) -> bool:
    """Flagger's HasConfigChanged: a new, removed or changed config (by checksum) is a change."""
    if not current and tracked is None:
        return False
    if tracked is None or len(current or {}) != len(tracked):
        return True
    return any(tracked.get(key) != value for key, value in (current or {}).items())


def canary_checksum(status: CanaryStatus) -> str:
    """The `checksum` of webhook payloads: the hash of trackedConfigs and lastAppliedSpec together."""
    return compute_hash({"TrackedConfigs": status.tracked_configs, "LastAppliedSpec": status.last_applied_spec})
