"""Files of the local data folder that only its owner may read: the emulator's journal and snapshots hold
every stored item, secret job type settings included, and `tokens.json` the token digests.

New files are created 0600 and folders 0700 (whatever the umask); `secure_data_folder` narrows what an
earlier version (or a copy) left with wider modes, once at start-up."""
from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import IO, Any

FILE_MODE = 0o600
DIR_MODE = 0o700
# What the data folder holds that is the store's content (the `workspaces` folder is the jobs' files:
# left as their owner made them).
PRIVATE_ENTRIES = ("journal", "snapshot", "snapshot.prev", "engine.lock", "tokens.json", "snapshot-error.txt")
PRIVATE_PREFIXES = ("snapshot", "tokens.json")


def private_dir(path: Path, parents: bool = False) -> Path:
    """`path` as a folder only its owner can open (created, or narrowed when it exists)."""
    path = Path(path)
    path.mkdir(mode=DIR_MODE, parents=parents, exist_ok=True)
    os.chmod(path, DIR_MODE)
    return path


def private_open(path: Path, mode: str = "w", encoding: str | None = None, buffering: int = -1) -> IO[Any]:
    """`open(path, mode)` for writing ("w", "wb", "a", "ab"), the file created (or narrowed to) 0600."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode.startswith("a") else os.O_TRUNC) | os.O_CLOEXEC
    descriptor = os.open(path, flags, FILE_MODE)
    try:
        os.fchmod(descriptor, FILE_MODE)
        return os.fdopen(descriptor, mode, buffering=buffering, encoding=encoding)
    except BaseException:
        os.close(descriptor)
        raise


def private_write_text(path: Path, text: str) -> None:
    with private_open(path, "w", encoding="utf-8") as out:
        out.write(text)


def make_private(path: Path) -> None:
    """`path` and, for a folder, everything in it: files 0600, folders 0700 (symbolic links are not followed)."""
    path = Path(path)
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISLNK(mode):
        return
    if not stat.S_ISDIR(mode):
        os.chmod(path, FILE_MODE)
        return
    os.chmod(path, DIR_MODE)
    for root, folders, files in os.walk(path):
        for name in folders:
            if not os.path.islink(os.path.join(root, name)):
                os.chmod(os.path.join(root, name), DIR_MODE)
        for name in files:
            if not os.path.islink(os.path.join(root, name)):
                os.chmod(os.path.join(root, name), FILE_MODE)


def secure_data_folder(data_dir: Path) -> None:
    """The data folder 0700 and the store's files in it (journal, snapshots, tokens) owner-only, including
    files an earlier version wrote with wider modes."""
    data_dir = private_dir(Path(data_dir), parents=True)
    for entry in data_dir.iterdir():
        if entry.name in PRIVATE_ENTRIES or entry.name.startswith(PRIVATE_PREFIXES):
            make_private(entry)
