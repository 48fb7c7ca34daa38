"""A Canary whose status another controller (Flagger) wrote recently is recognised from its managedFields."""

from __future__ import annotations

import datetime as dt
from typing import Any

from serinus.runtime.foreign import foreign_writer

NOW = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.UTC)


def _entry(manager: str, seconds_ago: float, *, subresource: str = "status", status: bool = True) -> dict[str, Any]:
    fields: dict[str, Any] = {"f:status": {"f:phase": {}}} if status else {"f:spec": {"f:analysis": {}}}
    when = (NOW - dt.timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
    entry: dict[str, Any] = {
        "manager": manager,
        "operation": "Update",
        "apiVersion": "flagger.app/v1beta1",
        "time": when,
    }
    entry["fieldsType"], entry["fieldsV1"] = "FieldsV1", fields
    if subresource:
        entry["subresource"] = subresource
    return entry


def _canary(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": "podinfo", "namespace": "test", "managedFields": list(entries)}}


def test_a_recent_flagger_status_write_is_foreign_and_names_flagger() -> None:
    """Flagger wrote the status 30 s ago: the Canary is another controller's, and the message says so."""
    found = foreign_writer(_canary(_entry("flagger", 30)), "serinus", NOW, 600)
    assert found is not None
    assert (found.manager, found.age_s) == ("flagger", 30.0)
    assert 'field manager "flagger"' in found.message("podinfo", "test")
    assert "docs/migration.md" in found.message("podinfo", "test")


def test_our_own_writes_old_writes_and_spec_writes_are_not() -> None:
    """Serinus's own status writes, a Flagger write older than the window, and a spec write by kubectl leave the
    Canary to Serinus."""
    canary = _canary(
        _entry("serinus", 5),
        _entry("flagger", 601),
        _entry("kubectl-client-side-apply", 1, subresource="", status=False),
    )
    assert foreign_writer(canary, "serinus", NOW, 600) is None


def test_a_window_of_zero_turns_the_check_off() -> None:
    """--foreign-status-window=0: even a write a second ago does not stop Serinus."""
    assert foreign_writer(_canary(_entry("flagger", 1)), "serinus", NOW, 0) is None


def test_the_most_recent_foreign_writer_is_named() -> None:
    """Two other managers: the one that wrote last is reported."""
    found = foreign_writer(_canary(_entry("flagger", 200), _entry("argo", 20)), "serinus", NOW, 600)
    assert found is not None
    assert found.manager == "argo"


def test_malformed_managed_fields_are_ignored() -> None:
    """A managedFields that is not a list, or entries without manager or time, do not raise."""
    assert foreign_writer({"metadata": {"managedFields": "x"}}, "serinus", NOW, 600) is None
    assert (
        foreign_writer(_canary({"subresource": "status"}, {"manager": "flagger", "time": "soon"}), "serinus", NOW, 600)
        is None
    )
