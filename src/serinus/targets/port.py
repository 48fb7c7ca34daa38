"""The engine's Target port for Deployment, DaemonSet and StatefulSet targets."""

from __future__ import annotations

from typing import Any

from serinus.targets.controller import WorkloadController


class WorkloadTarget(WorkloadController):
    """WorkloadController with what change detection needs: the spec to hash and the tracked configs."""

    async def spec_for_hash(self) -> Any:
        """A Deployment's or StatefulSet's pod template; a DaemonSet's without the scale-to-zero selector."""
        return await self.template_for_hash()

    async def tracked_configs(self) -> dict[str, str] | None:
        """`configmap/<name>` / `secret/<name>` -> checksum; None when config tracking is off."""
        if not self.options.config_tracking:
            return None
        return await self.tracked()
