"""A measuring worker process: `python -m frittata.tuning.worker [MODULE:FUNCTION]`.

Once its imports are done it writes `pipe.READY`; then it reads jobs from stdin and writes
results to stdout, each a pickle framed by its 8-byte length, until stdin closes. The function
run on each job is `measure.run_job` unless another is named (tests name one that crashes). A
fresh interpreter, not a fork: generated code that crashes takes only this process down, and
nothing of the tuner's state is inherited.
"""

from __future__ import annotations

import importlib
import sys

from frittata.tuning.pipe import READY, receive, send


def main(argv: list[str]) -> None:
    module, _, name = (argv[0] if argv else "frittata.tuning.measure:run_job").partition(":")
    work = getattr(importlib.import_module(module), name)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # anything a job prints must not corrupt the result stream
    send(stdout, READY)
    while True:
        try:
            job = receive(stdin)
        except EOFError:
            return
        send(stdout, work(job))


if __name__ == "__main__":
    main(sys.argv[1:])
