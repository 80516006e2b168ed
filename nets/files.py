"""Files written whole: to a temporary name beside the target, then renamed into place, so a
reader (or a crash) never sees half a file. Shared by the work directories of runs and by the
data a loader saves once (a vocabulary)."""

import os
import tempfile
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_whole(target: Path, content: bytes) -> Path:
    """Write ``content`` to ``target`` atomically, with the permissions a plain write would give
    (``mkstemp``'s 0600 would hide results from other users)."""
    target = Path(target)
    handle, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(handle, "wb") as f:
            f.write(content)
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target
