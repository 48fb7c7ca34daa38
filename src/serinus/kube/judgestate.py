"""Where `status.judge` goes when the Canary's schema prunes it: a ConfigMap owned by the Canary.

Flagger's own Canary CRD declares its status fields and does not preserve unknown ones, so the API server drops
`status.judge` from every status write. With only Flagger's CRDs installed (the case the `serinus.io/judge`
annotation exists for), the judge would then start afresh at every interval. KubeStore notices the pruning from the
API server's answer to a status write and keeps the judge's status here instead: one ConfigMap per Canary,
`<canary>-serinus-judge`, holding status.judge as JSON under `status.judge`, with an ownerReference to the Canary so
that it is deleted with it. Why a ConfigMap rather than an annotation on the Canary is in docs/judge.md.
"""

from __future__ import annotations

import json
from typing import Any, Final

from lightkube import ApiError, AsyncClient, codecs
from lightkube.resources.core_v1 import ConfigMap
from pydantic import ValidationError

from serinus.api import Canary
from serinus.api.judge import ANNOTATION, JudgeStatus
from serinus.engine.ports import PortError

#: the ConfigMap's key holding status.judge as JSON
DATA_KEY: Final = "status.judge"
#: the ConfigMap's name is the Canary's with this suffix
SUFFIX: Final = "-serinus-judge"
#: labels that say what the ConfigMap is (for `kubectl get configmap -l serinus.io/judge-of=<canary>`)
MANAGED_BY: Final = "app.kubernetes.io/managed-by"
JUDGE_OF: Final = "serinus.io/judge-of"
CONFLICT_RETRIES: Final = 5


def config_map_name(canary: str) -> str:
    """The name of the ConfigMap that keeps a Canary's judge status."""
    return f"{canary}{SUFFIX}"


def asks_for_judge(canary: Canary) -> bool:
    """Whether the Canary configures the judge at all (spec fields or `serinus.io/judge*` annotations): only
    those Canaries can have a kept judge status, so only they cost a ConfigMap read."""
    annotations = canary.metadata.annotations or {}
    if any(key == ANNOTATION or key.startswith(ANNOTATION + "-") for key in annotations):
        return True
    analysis = canary.spec.analysis
    return analysis is not None and (analysis.judge is not None or any(m.judge for m in analysis.metrics))


def dump(judge: JudgeStatus | None) -> str | None:
    """status.judge as the JSON kept in the ConfigMap (None: no judge status)."""
    if judge is None:
        return None
    return json.dumps(judge.model_dump(by_alias=True, exclude_none=True, mode="json"), sort_keys=True)


def _owner(canary: Canary) -> dict[str, Any]:
    # not blockOwnerDeletion: deleting the Canary must never wait on the judge's evidence
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "name": canary.metadata.name,
        "uid": canary.metadata.uid,
        "controller": True,
        "blockOwnerDeletion": False,
    }


def _owned_by(cm: dict[str, Any], canary: Canary) -> tuple[bool, bool]:
    """(owned by a Canary of this name, owned by this very Canary): a Canary deleted and created again under the
    same name leaves a ConfigMap of the old one, which the new one takes over, unread."""
    refs = (cm.get("metadata") or {}).get("ownerReferences") or []
    named = [r for r in refs if r.get("kind") == "Canary" and r.get("name") == canary.metadata.name]
    return bool(named), any(r.get("uid") == canary.metadata.uid for r in named)


class JudgeConfigMaps:
    """Reads and writes the ConfigMaps that keep judge statuses the Canary schema prunes."""

    def __init__(self, client: AsyncClient) -> None:
        self.client = client

    async def _get(self, canary: Canary) -> dict[str, Any] | None:
        name, namespace = config_map_name(canary.metadata.name), canary.metadata.namespace
        try:
            found: Any = await self.client.get(ConfigMap, name, namespace=namespace)
        except ApiError as err:
            if err.status.code == 404:
                return None
            raise PortError(f"judge state configmap {name}.{namespace} get query failed: {err.status.message}") from err
        cm: dict[str, Any] = found.to_dict()
        if not _owned_by(cm, canary)[0]:
            raise PortError(
                f"configmap {name}.{namespace} exists and is not owned by canary {canary.metadata.name}: "
                "the judge's state cannot be kept; rename or delete that configmap",
                retriable=False,
            )
        return cm

    async def read(self, canary: Canary) -> JudgeStatus | None:
        """The judge status kept for this Canary, or None (no ConfigMap, an empty one, or one of an earlier Canary
        of the same name)."""
        cm = await self._get(canary)
        if cm is None or not _owned_by(cm, canary)[1]:
            return None
        text = (cm.get("data") or {}).get(DATA_KEY)
        if not text:
            return None
        name = config_map_name(canary.metadata.name)
        try:
            return JudgeStatus.model_validate(json.loads(text))
        except (ValueError, ValidationError) as err:
            where = f"configmap {name}.{canary.metadata.namespace}"
            raise PortError(f"{where}: {DATA_KEY} is not a judge status: {err}", retriable=False) from err

    async def write(self, canary: Canary, judge: JudgeStatus | None) -> None:
        """Keep `judge` for this Canary (None clears it: the ConfigMap stays, empty, until the Canary goes)."""
        text = dump(judge)
        name, namespace = config_map_name(canary.metadata.name), canary.metadata.namespace
        for attempt in range(CONFLICT_RETRIES):
            cm = await self._get(canary)
            if cm is None and text is None:
                return
            body: dict[str, Any] = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": name,
                    "namespace": namespace,
                    "labels": {MANAGED_BY: "serinus", JUDGE_OF: canary.metadata.name},
                    "ownerReferences": [_owner(canary)],
                },
                "data": {DATA_KEY: text} if text is not None else {},
            }
            try:
                if cm is None:
                    await self.client.create(codecs.from_dict(body))
                else:
                    body["metadata"]["resourceVersion"] = cm["metadata"].get("resourceVersion")
                    await self.client.replace(codecs.from_dict(body))
                return
            except ApiError as err:
                # 409: created or changed since the read (another replica's last write); read again
                if err.status.code == 409 and attempt + 1 < CONFLICT_RETRIES:
                    continue
                raise PortError(
                    f"writing judge state configmap {name}.{namespace} failed: {err.status.message}"
                ) from err
