"""Traffic routers, one module per provider, behind the Router protocol."""

from __future__ import annotations
