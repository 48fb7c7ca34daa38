"""The Kubernetes client layer: lightkube, CRD resources, server-side apply, events, Lease election."""

from __future__ import annotations
