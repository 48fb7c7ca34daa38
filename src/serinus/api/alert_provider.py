"""The AlertProvider kind: where and how a canary's alerts are delivered."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, ClassVar, Final, Literal

from pydantic import Field

from serinus.api.base import ApiModel, KubeObject
from serinus.api.meta import API_VERSION, ObjectMeta
from serinus.api.refs import SecretRef
from serinus.api.status import ObjectStatus

KIND: Final = "AlertProvider"
DEFAULT_CHANNEL = "general"
DEFAULT_USERNAME = "flagger"


class AlertProviderType(StrEnum):
    """Notifiers: Flagger's five, plus a generic JSON webhook and Prometheus Alertmanager (Serinus's additions)."""

    SLACK = "slack"
    MSTEAMS = "msteams"
    DISCORD = "discord"
    ROCKET = "rocket"
    GCHAT = "gchat"
    WEBHOOK = "webhook"
    ALERTMANAGER = "alertmanager"


class AlertProviderSpec(ApiModel):
    """The notifier and its address (`spec`): an address, a Secret holding one, or both."""

    crd_extra: ClassVar[Mapping[str, Any]] = {
        "oneOf": [{"required": ["type", "address"]}, {"required": ["type", "secretRef"]}],
    }

    type: AlertProviderType = Field(description="Notifier.")
    channel: str = Field(default="", description="Channel (Slack, Discord, Rocket); general if unset.")
    username: str = Field(default="", description="Bot user name; flagger if unset.")
    address: str = Field(default="", description="Webhook URL; a Secret's address key overrides it.")
    proxy: str = Field(default="", description="HTTP(S) proxy URL.")
    secret_ref: SecretRef | None = Field(
        default=None, description="Secret with key address (required) and token (optional)."
    )

    def channel_or_default(self) -> str:
        """The channel, or general."""
        return self.channel or DEFAULT_CHANNEL

    def username_or_default(self) -> str:
        """The bot user name, or flagger."""
        return self.username or DEFAULT_USERNAME


class AlertProvider(KubeObject):
    """An AlertProvider (flagger.app/v1beta1): a notification target that canaries reference by name."""

    api_version: str = Field(default=API_VERSION, description="flagger.app/v1beta1.")
    kind: Literal["AlertProvider"] = Field(default=KIND, description="AlertProvider.")
    metadata: ObjectMeta = Field(default_factory=ObjectMeta, description="Object metadata.")
    spec: AlertProviderSpec = Field(description="Notifier and address.")
    status: ObjectStatus = Field(default_factory=ObjectStatus, description="Observed state.")
