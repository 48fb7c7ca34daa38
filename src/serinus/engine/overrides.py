"""Actions by annotation: `flagger.app/skipAnalysis`, `flagger.app/suspend` and `flagger.app/forceRollback`
(value "true") act as the spec fields do, so an operator can act on a release without editing the spec that
GitOps owns."""

from __future__ import annotations

from serinus.api import Canary

SKIP_ANALYSIS = "flagger.app/skipAnalysis"
SUSPEND = "flagger.app/suspend"
FORCE_ROLLBACK = "flagger.app/forceRollback"


def _on(canary: Canary, key: str) -> bool:
    return (canary.metadata.annotations or {}).get(key, "").strip().lower() == "true"


def effective(canary: Canary) -> Canary:
    """The Canary as the engine should treat it: skipAnalysis and suspend annotations folded into the spec."""
    skip, suspend = _on(canary, SKIP_ANALYSIS), _on(canary, SUSPEND)
    if (not skip or canary.spec.skip_analysis) and (not suspend or canary.spec.suspend):
        return canary
    copy = canary.model_copy(deep=True)
    copy.spec.skip_analysis = copy.spec.skip_analysis or skip
    copy.spec.suspend = copy.spec.suspend or suspend
    return copy


def rollback_forced(canary: Canary) -> bool:
    """Whether `flagger.app/forceRollback: "true"` asks to roll the current run back."""
    return _on(canary, FORCE_ROLLBACK)
