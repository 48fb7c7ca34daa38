"""`serinus-loadtester`: the service that Canary webhooks call to run load tests, gates and commands.

A drop-in for flagger-loadtester: the same endpoints, task types, answers and gate semantics (see
docs/loadtester.md), plus --allow-command and --disable-bash because it runs commands sent over HTTP.
"""

from __future__ import annotations

from serinus.loadtester.cli import main

__all__ = ["main"]
