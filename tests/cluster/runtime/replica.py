"""A test replica of the operator process: analyses by appending `<identity> <namespace>/<name>` to a file.

Run as `python -m tests.cluster.runtime.replica IDENTITY OUTFILE -- <serinus run options>`.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path
from typing import Any

import click

from serinus.runtime.operator import Operator
from serinus.runtime.options import flagger_args, from_params, operator_options
from serinus.runtime.scheduler import Key


def main() -> None:
    """Parse the operator options after `--` and run until SIGTERM."""
    identity, outfile = sys.argv[1], Path(sys.argv[2])
    args = flagger_args(sys.argv[sys.argv.index("--") + 1 :])

    @click.command()
    @operator_options
    def run(**params: Any) -> None:
        def record(key: Key) -> None:
            with outfile.open("a") as out:
                out.write(f"{identity} {key[0]}/{key[1]}\n")

        async def analyze(key: Key) -> None:
            await asyncio.to_thread(record, key)

        async def go() -> None:
            stop = asyncio.Event()
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
            await Operator(from_params(params), analyze, identity=identity).run(stop)

        asyncio.run(go())

    run(args, standalone_mode=True)


if __name__ == "__main__":
    main()
