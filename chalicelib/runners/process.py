"""A command run as its own process group, the way a container runs: output streamed line by line,
killed as a whole tree, measured.

Ending the tree safely takes some care:

1. The command runs with `/bin/sh -c` in a new session, so its process group id is the shell's pid
   and one `killpg` reaches every descendant that did not leave the group on purpose.
2. `terminate` (timeout, cancel) sends SIGTERM to the group and SIGKILL after a grace period.
3. When the shell exits, the worker first waits with `WNOWAIT`: the shell stays a zombie, which keeps
   its pid - and so the group id - from being reused while the rest of the group is killed. Then
   whatever is left of the group is killed (a container's processes die with its main process),
   after the grace period if a SIGTERM was sent.
4. On Linux this process becomes a child subreaper (`PR_SET_CHILD_SUBREAPER`), so a descendant
   orphaned by the kill is re-parented here, not to an init that might never reap it; the worker
   reaps the group's orphans with `wait4` and adds their usage. Finally the shell is reaped with
   `wait4`, whose usage covers the shell and every descendant it reaped itself.

CPU time is user + system time of the shell and all reaped descendants. Peak memory is the largest
peak RSS of any single process of the tree (`ru_maxrss` is a maximum, not a sum), in MiB.
"""
from __future__ import annotations

import codecs
import contextlib
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import IO

logger = logging.getLogger("jobs.runners")

MAX_LINE_BYTES = 64 * 1024  # a longer line is cut into pieces of this size (CloudWatch takes 256 KiB)
_READ_SIZE = 64 * 1024
_REAP_WAIT = 2.0  # seconds to wait for SIGKILLed processes to disappear
_POLL = 0.01

LineCallback = Callable[[str, str], None]  # (stream, line)


@dataclass(frozen=True)
class ProcessOutcome:
    exit_code: int              # 128 + N for a signal N
    stopped: str | None         # the reason given to `terminate`, if it was called before the end
    cpu_seconds: float
    wall_seconds: float
    peak_memory_mib: float


def become_subreaper() -> bool:
    """Makes orphaned descendants of this process its children (Linux); False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


class ProcessGroup:
    def __init__(self, command: str, cwd: str, env: Mapping[str, str], on_line: LineCallback,
                 kill_grace: float = 2.0, drain_timeout: float = 2.0) -> None:
        self._command = command
        self._cwd = cwd
        self._env = dict(env)
        self._on_line = on_line
        self._grace = kill_grace
        self._drain_timeout = drain_timeout
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._closed = False            # no more signals from other threads: the worker owns the group
        self._stopped: str | None = None
        self._term_at: float | None = None
        self._kill_timer: threading.Timer | None = None
        self._readers: list[threading.Thread] = []
        self._stop_reading = threading.Event()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self) -> None:
        """Raises OSError if the shell cannot start."""
        self._proc = subprocess.Popen(
            ["/bin/sh", "-c", self._command], cwd=self._cwd, env=self._env, start_new_session=True,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, close_fds=True)
        self._started = time.monotonic()
        for stream, pipe in (("stdout", self._proc.stdout), ("stderr", self._proc.stderr)):
            assert pipe is not None
            reader = threading.Thread(target=self._read, args=(stream, pipe), daemon=True,
                                      name=f"runner-{stream}-{self._proc.pid}")
            reader.start()
            self._readers.append(reader)

    def terminate(self, reason: str) -> None:
        """SIGTERM to the group now, SIGKILL after the grace period. The first reason is kept."""
        with self._lock:
            if self._stopped is None:
                self._stopped = reason
            if self._closed or self._term_at is not None or self._proc is None:
                return
            self._term_at = time.monotonic()
            self._signal_group(signal.SIGTERM)
            self._kill_timer = threading.Timer(self._grace, self._kill_after_grace)
            self._kill_timer.daemon = True
            self._kill_timer.start()

    def wait(self, timeout: float | None) -> ProcessOutcome:
        """Blocks until the whole tree is gone and the output is read; `terminate("timeout")` after
        `timeout` seconds (None or <= 0: no limit)."""
        assert self._proc is not None
        pid = self._proc.pid
        timer = None
        if timeout and timeout > 0:
            timer = threading.Timer(timeout, self.terminate, args=("timeout",))
            timer.daemon = True
            timer.start()
        try:
            os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)  # the shell is a zombie now: its pid is held
        finally:
            if timer:
                timer.cancel()
        wall = time.monotonic() - self._started
        with self._lock:
            self._closed = True
            if self._kill_timer:
                self._kill_timer.cancel()
            term_at, stopped = self._term_at, self._stopped
        cpu, peak = self._end_group(pid, term_at)
        _, status, usage = os.wait4(pid, 0)
        self._proc.returncode = os.waitstatus_to_exitcode(status)
        cpu += usage.ru_utime + usage.ru_stime
        peak = max(peak, _maxrss_mib(usage.ru_maxrss))
        self._join_readers()
        code = self._proc.returncode
        return ProcessOutcome(exit_code=128 - code if code < 0 else code, stopped=stopped,
                              cpu_seconds=cpu, wall_seconds=wall, peak_memory_mib=peak)

    # --- the group -------------------------------------------------------------------------

    def _signal_group(self, sig: int) -> None:
        assert self._proc is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, sig)

    def _kill_after_grace(self) -> None:
        with self._lock:
            if not self._closed:
                self._signal_group(signal.SIGKILL)

    def _end_group(self, leader: int, term_at: float | None) -> tuple[float, float]:
        """Kills what is left of the group (after the grace period when a SIGTERM went out) and reaps
        the orphans re-parented here; returns their CPU seconds and peak memory."""
        cpu = peak = 0.0
        if term_at is not None:
            deadline = term_at + self._grace
            while time.monotonic() < deadline:
                used, mem, alive = self._reap_members(leader)
                cpu, peak = cpu + used, max(peak, mem)
                if not alive:
                    break
                time.sleep(_POLL)
        self._signal_group(signal.SIGKILL)
        deadline = time.monotonic() + _REAP_WAIT
        while True:
            used, mem, alive = self._reap_members(leader)
            cpu, peak = cpu + used, max(peak, mem)
            if not alive or time.monotonic() >= deadline:
                break
            time.sleep(_POLL)
        return cpu, peak

    def _reap_members(self, leader: int) -> tuple[float, float, bool]:
        """Reaps the group's zombies that are our children; (cpu, peak MiB, any member still alive)."""
        cpu = peak = 0.0
        alive = False
        me = os.getpid()
        for pid, state, ppid in _group_members(leader):
            if pid == leader:
                continue
            if state != "Z":
                alive = True
            elif ppid == me:
                with contextlib.suppress(ChildProcessError):
                    reaped, _, usage = os.wait4(pid, os.WNOHANG)
                    if reaped:
                        cpu += usage.ru_utime + usage.ru_stime
                        peak = max(peak, _maxrss_mib(usage.ru_maxrss))
        return cpu, peak, alive

    # --- output ----------------------------------------------------------------------------

    def _read(self, stream: str, pipe: IO[bytes]) -> None:
        """Reads one pipe to its end (or until told to stop) and reports whole lines, decoded as
        UTF-8 (invalid bytes as U+FFFD), without the line end; a last line without a newline too."""
        fd = pipe.fileno()
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        pending = bytearray()
        poller = select.poll()  # not select(): it fails on descriptors above 1023
        poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        try:
            while not self._stop_reading.is_set():
                if not poller.poll(200):
                    continue
                chunk = os.read(fd, _READ_SIZE)
                if not chunk:
                    break
                pending += chunk
                while True:
                    end = pending.find(b"\n")
                    if end < 0 and len(pending) < MAX_LINE_BYTES:
                        break
                    cut = end + 1 if 0 <= end < MAX_LINE_BYTES else MAX_LINE_BYTES
                    self._emit(stream, decoder.decode(bytes(pending[:cut])))
                    del pending[:cut]
            if pending:
                self._emit(stream, decoder.decode(bytes(pending), final=True))
        except Exception:  # noqa: BLE001 - a broken reader must not take the execution down
            logger.exception("reading %s of pid %s failed", stream, self.pid)
        finally:
            with contextlib.suppress(OSError):
                pipe.close()

    def _emit(self, stream: str, text: str) -> None:
        if text.endswith("\n"):
            text = text[:-1]
            if text.endswith("\r"):
                text = text[:-1]
        self._on_line(stream, text)

    def _join_readers(self) -> None:
        # Every process of the group is gone, so the pipes are at their end - unless a process left
        # the group (setsid) holding them: stop reading then, rather than wait for it.
        deadline = time.monotonic() + self._drain_timeout
        for reader in self._readers:
            reader.join(max(0.0, deadline - time.monotonic()))
        if any(reader.is_alive() for reader in self._readers):
            logger.warning("pid %s: a process outside the group holds the output open; stop reading", self.pid)
            self._stop_reading.set()
            for reader in self._readers:
                reader.join()


def _maxrss_mib(maxrss: int) -> float:
    return maxrss / (1024 * 1024) if sys.platform == "darwin" else maxrss / 1024  # bytes on macOS, KiB on Linux


def _group_members(pgid: int) -> list[tuple[int, str, int]]:
    """(pid, state, ppid) of the processes in group `pgid`, from /proc; [] where there is none."""
    members = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) >= 3 and int(fields[2]) == pgid:
            members.append((int(entry), fields[0].decode(), int(fields[1])))
    return members
