"""Reading and creating the audit's key files, failing closed.

Two rules, for every key Kura holds (the audit text key, retired text keys, the checkpoint key):

* A key file that the settings name explicitly and that is missing is an error, never a reason to
  make a new key: a secret mount that failed to appear must not yield fresh keys beside the
  database (new text would be encrypted with a key nobody keeps; checkpoints signed with one no
  verifier has). Only the default location under ``KURA_DATA_DIR`` is created on first use.
* An existing key file must be a regular file that neither group nor others may read or write
  (``mode & 0o077 == 0``); otherwise it is refused with the ``chmod 600`` that fixes it.

The file is opened first and checked through its descriptor (``fstat``), so what is checked is
what is read. Symbolic links are followed: secret mounts (Kubernetes) are links.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from bot.errors import ConfigurationError

__all__ = ["KeyFile", "read_key_file"]

# A key file is 32 bytes; anything much larger is not a key (and is not read whole).
_MAX_BYTES = 4096


@dataclass(frozen=True)
class KeyFile:
    """Where a key lives and how to talk about it in an error.

    ``setting`` names the environment variable that configures it; ``configured`` says whether the
    settings named this path (then it must exist) or it is the default location (created on first
    use when the caller allows it).
    """

    path: Path
    what: str
    setting: str
    configured: bool


def _create(path: Path) -> None:
    """A new random 32-byte key, mode 0600, written whole; a file that appeared meanwhile is kept."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        return  # another process made it first: read theirs
    with os.fdopen(fd, "wb") as out:
        out.write(os.urandom(32))
        out.flush()
        os.fsync(out.fileno())


def read_key_file(key: KeyFile, *, create: bool = False) -> bytes:
    """The bytes of ``key``'s file, after the checks in the module docstring.

    Args:
        key: the file and how to name it.
        create: make a new key when the file is missing, if it is the default location
            (never when ``key.configured``).

    Raises:
        ConfigurationError: missing (configured, or not ``create``), not a regular file, readable or
            writable by group or others, unreadable, or far too large; one line naming the file.
    """
    path = key.path
    try:
        if create and not key.configured and not os.path.lexists(path):
            _create(path)
        # O_NONBLOCK: a FIFO planted at the path must not hang the command; it is refused below.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        if key.configured:
            raise ConfigurationError(
                f"{path}: the {key.what} named by {key.setting} does not exist; Kura does not create a configured "
                "key (is the secret mounted?)"
            ) from None
        raise ConfigurationError(f"{path}: no {key.what} ({key.setting})") from None
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read the {key.what}: {exc.strerror}") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigurationError(f"{path}: the {key.what} is not a regular file")
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            raise ConfigurationError(
                f"{path}: the {key.what} may be read or changed by group or others (mode {mode:04o}); "
                f"run `chmod 600 {path}`"
            )
        data = b""
        while len(data) <= _MAX_BYTES and (chunk := os.read(fd, _MAX_BYTES + 1 - len(data))):
            data += chunk
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read the {key.what}: {exc.strerror}") from exc
    finally:
        os.close(fd)
    if len(data) > _MAX_BYTES:
        raise ConfigurationError(f"{path}: the {key.what} is not a key file (over {_MAX_BYTES} bytes)")
    return data
