"""Child processes (Redis, workers, the web server): started and stopped one way everywhere."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from typing import Any

#: prctl's option that asks the kernel for a signal when the parent dies (linux/prctl.h).
_PR_SET_PDEATHSIG = 1


def start(command: list[str], **options: Any) -> subprocess.Popen[bytes]:
    """Start ``command`` in a session of its own (Ctrl-C in the terminal reaches only the
    launcher, which then stops its children in order), and, on Linux, tied to the launcher: if
    the launcher dies without stopping it (killed, say), the kernel sends it SIGTERM, so that no
    child runs on as an orphan holding its port."""
    return subprocess.Popen(command, start_new_session=True,
                            preexec_fn=_die_with(os.getpid()) if sys.platform == "linux" else None, **options)


def _die_with(parent: int) -> Any:
    def tie() -> None:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the launcher died before the tie was made
            os._exit(1)
    return tie


def stop(process: subprocess.Popen[bytes], timeout: float = 30.0, group: bool = False) -> None:
    """Ask ``process`` to finish (SIGTERM), wait up to ``timeout`` seconds, then kill it.

    With ``group``, the signals go to its process group (a worker and its pool, started by
    :func:`start` in a session of its own)."""
    if process.poll() is not None:
        return
    send = (lambda sig: os.killpg(process.pid, sig)) if group else process.send_signal
    send(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        send(signal.SIGKILL)
        process.wait()
