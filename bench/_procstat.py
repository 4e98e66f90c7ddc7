"""What the benchmarks read about processes, in one place: a free loopback port to start a
server on, and a process's resident memory and CPU time from /proc.

CPU time comes from the schedstat of every thread (nanoseconds) where the kernel keeps it:
utime + stime count 10 ms clock ticks, coarse beside a benchmark window (a 3 s round of
forwarded calls is ~300 ticks; 2,000 edges' admissions are a few). The tick count is kept as
the fallback, and for the benchmarks that print both.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

__all__ = ["cpu_schedstat_seconds", "cpu_seconds", "cpu_ticks_seconds", "free_port", "rss_kb"]


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now (the kernel's pick), for a server started next."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def rss_kb(pid: int) -> int:
    """Resident memory of `pid` in KiB (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid} (a zombie?)")


def cpu_ticks_seconds(pid: int) -> float:
    """utime + stime of /proc/<pid>/stat, in seconds (clock-tick resolution)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_schedstat_seconds(pid: int) -> float:
    """CPU time of every thread of `pid` from schedstat (ns), in seconds; NaN where the
    kernel keeps no schedstat."""
    try:
        return (
            sum(
                int((task / "schedstat").read_text().split()[0])
                for task in Path(f"/proc/{pid}/task").iterdir()
            )
            / 1e9
        )
    except (OSError, ValueError, IndexError):
        return float("nan")


def cpu_seconds(pid: int) -> float:
    """CPU time of every thread of `pid` in seconds: schedstat's nanoseconds, else ticks."""
    seconds = cpu_schedstat_seconds(pid)
    return cpu_ticks_seconds(pid) if seconds != seconds else seconds
