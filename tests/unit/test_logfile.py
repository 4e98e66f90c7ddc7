"""The rotated log file (``log.file.*``): lumberjack's names, size rotation without losing a
line, retention by count and by age, gzip, and what an earlier process left behind. Real
files in a temporary directory; the clock is injected where age matters."""

from __future__ import annotations

import gzip
import logging
import time
from pathlib import Path

import pytest

from frontier.logfile import MIB, RotatingLogFile

LINE = "y" * 1023  # + "\n": 1 KiB per record


def write(handler: RotatingLogFile, records: int, start: int = 0) -> None:
    for n in range(start, start + records):
        handler.emit(logging.makeLogRecord({"msg": f"{n:08d} {LINE[9:]}"}))


def backups(directory: Path, stem: str = "app") -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.name.startswith(f"{stem}-"))


def content(path: Path) -> str:
    if path.name.endswith(".gz"):
        with gzip.open(path, "rt") as f:
            return f.read()
    return path.read_text()


def numbers(text: str) -> list[int]:
    return [int(line[:8]) for line in text.splitlines()]


def test_rotates_by_size_under_lumberjack_names_and_loses_no_line(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "app.log"  # the directory is created
    handler = RotatingLogFile(path, max_size_mb=1, max_backups=0, max_age_days=0)
    write(handler, 2500)  # about 2.4 MiB: two rotations
    handler.close()
    rotated = backups(path.parent)
    assert len(rotated) == 2
    for backup in rotated:
        # app-2024-05-01T10-00-00.000.log, as lumberjack names them
        assert backup.name[len("app-") :].count("-") == 4
        assert backup.suffix == ".log"
        assert backup.stat().st_size <= MIB
    everything = "".join(content(p) for p in [*rotated, path])  # oldest first, then current
    assert numbers(everything) == list(range(2500))


def test_keeps_the_newest_max_backups(tmp_path: Path) -> None:
    clock = iter(range(1_700_000_000, 1_800_000_000, 60))
    path = tmp_path / "app.log"
    handler = RotatingLogFile(
        path, max_size_mb=1, max_backups=2, max_age_days=0, clock=lambda: float(next(clock))
    )
    write(handler, 4200)  # four rotations
    handler.close()
    kept = backups(tmp_path)
    assert len(kept) == 2
    assert numbers(content(kept[0]))[0] < numbers(content(kept[1]))[0]  # the two newest
    assert numbers(content(kept[1]))[-1] + 1 == numbers(path.read_text())[0]


def test_removes_backups_older_than_max_age_and_compresses_the_rest(tmp_path: Path) -> None:
    now = 1_750_000_000.0
    for days, extension in ((1, ".log"), (10, ".log.gz"), (31, ".log"), (400, ".log.gz")):
        stamp = time.strftime("%Y-%m-%dT%H-%M-%S", time.gmtime(now - days * 86400))
        (tmp_path / f"app-{stamp}.250{extension}").write_bytes(
            gzip.compress(b"old\n") if extension.endswith(".gz") else b"old\n"
        )
    (tmp_path / "app-2025-01-01T00-00-00.000.log.gz.tmp").write_bytes(b"half")  # a kill
    (tmp_path / "other-2000-01-01T00-00-00.000.log").write_text("not ours")
    handler = RotatingLogFile(
        tmp_path / "app.log", max_backups=0, max_age_days=30, compress=True, clock=lambda: now
    )
    handler.close()  # the start-up mill has finished
    kept = backups(tmp_path)
    assert [p.name.endswith(".log.gz") for p in kept] == [True, True]
    assert all(content(p) == "old\n" for p in kept)
    assert (tmp_path / "other-2000-01-01T00-00-00.000.log").exists()


def test_rotations_in_one_millisecond_get_distinct_names(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    handler = RotatingLogFile(path, max_size_mb=1, max_backups=0, max_age_days=0, clock=lambda: 0.0)
    write(handler, 3100)
    handler.close()
    rotated = handler.backups()
    assert len(rotated) == 3
    assert len({b.path for b in rotated}) == 3
    newest_first = [numbers(content(b.path))[0] for b in rotated]
    assert newest_first == sorted(newest_first, reverse=True)


def test_gzip_keeps_every_line(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    handler = RotatingLogFile(path, max_size_mb=1, max_backups=0, max_age_days=0, compress=True)
    write(handler, 1100)
    handler.close()
    (rotated,) = backups(tmp_path)
    assert rotated.name.endswith(".log.gz")
    assert numbers(content(rotated) + path.read_text()) == list(range(1100))


def test_a_file_without_extension(tmp_path: Path) -> None:
    path = tmp_path / "app"
    handler = RotatingLogFile(path, max_size_mb=1, max_backups=0, max_age_days=0)
    write(handler, 1100)
    handler.close()
    (rotated,) = backups(tmp_path)
    assert "." in rotated.name  # app-<date>.<ms>
    assert handler.backups()[0].path == rotated


def test_negative_limits_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="negative"):
        RotatingLogFile(tmp_path / "x.log", max_backups=-1)


def test_an_unusable_path_fails_at_once(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(OSError, match="file"):
        RotatingLogFile(tmp_path / "file" / "x.log")
