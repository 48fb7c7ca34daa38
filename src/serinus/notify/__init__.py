"""Alert providers: slack, msteams, discord, rocket, gchat, generic webhook and Alertmanager."""

from __future__ import annotations
