"""Workload controllers: Deployment, DaemonSet, StatefulSet and Service targets and their primary copies."""

from __future__ import annotations
