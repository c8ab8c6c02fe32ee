"""Child processes (Redis, workers, the web server): stopped one way everywhere."""

from __future__ import annotations

import os
import signal
import subprocess


def stop(process: subprocess.Popen[bytes], timeout: float = 30.0, group: bool = False) -> None:
    """Ask ``process`` to finish (SIGTERM), wait up to ``timeout`` seconds, then kill it.

    With ``group``, the signals go to its process group (a worker and its pool, started with
    ``start_new_session``)."""
    if process.poll() is not None:
        return
    send = (lambda sig: os.killpg(process.pid, sig)) if group else process.send_signal
    send(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        send(signal.SIGKILL)
        process.wait()
