"""Appending JSON Lines records that survive a bad disk: one record per line, every append on a
fresh line (a torn last line never swallows the next record), and every byte written or an
OSError (a short write on a nearly full disk is an error, not a silent loss).

Shared by the task history and the batch manifest; the caller holds the lock.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any


def append_record(fd: int, record: Mapping[str, Any]) -> None:
    """Append ``record`` as one line to the file open (for reading and appending) on ``fd``."""
    line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
    size = os.fstat(fd).st_size
    if size and os.pread(fd, 1, size - 1) != b"\n":
        line = b"\n" + line  # the last line was torn: never glue onto it
    write_all(fd, line)


def write_all(fd: int, data: bytes) -> None:
    """Write every byte or raise OSError."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError(28, "short write (is the disk full?)")
        view = view[written:]
