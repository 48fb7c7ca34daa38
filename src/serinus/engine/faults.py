"""Exceptions no code path expected, told as a person can act on them: what raised, where, and the start of why.

A step of the analysis must never fail silently (the release would stay at its weight with no event): the engine
turns such an exception into a Warning event worded here, a counted error and, where the analysis runs, a failed
check.
"""

from __future__ import annotations

#: an exception's text is cut here in events (a provider may put a whole response body in it)
LIMIT = 300


def describe(err: BaseException) -> str:
    """`<Type>: <text>` on one line, cut at LIMIT characters."""
    text = " ".join(str(err).split())
    if len(text) > LIMIT:
        text = text[:LIMIT] + "..."
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def origin(err: BaseException) -> str:
    """The innermost module of Serinus the exception passed through (`serinus.routers.istio`), or "" when none."""
    found = ""
    tb = err.__traceback__
    while tb is not None:
        module = tb.tb_frame.f_globals.get("__name__", "")
        if isinstance(module, str) and module.startswith("serinus."):
            found = module
        tb = tb.tb_next
    return found


def fault_text(subject: str, err: BaseException) -> str:
    """The Warning event of a step that raised: `Analysis of <canary>.<ns> failed in <module>: <Type>: <text>`."""
    where = origin(err)
    return f"Analysis of {subject} failed{f' in {where}' if where else ''}: {describe(err)}"
