"""Atomic text writes: a temp file in the same directory, then a rename, so readers never see half a file.

Local paths use mkstemp + os.replace (atomic on POSIX); remote ones (gs://, s3://, ...) go through tf.io.gfile,
whose rename is a copy + delete on object stores. No TensorFlow import unless a remote path is written.
"""

import os
import re
import tempfile


def write_text(path, text):
    """Write `text` (UTF-8) to `path` atomically, creating the directory; the file ends up 0644."""
    path = os.fspath(path)
    if re.match(r"^[a-z][a-z0-9+.-]*://", path):
        import tensorflow as tf

        tmp = f"{path}.tmp-{os.getpid()}"
        with tf.io.gfile.GFile(tmp, "w") as f:
            f.write(text)
        tf.io.gfile.rename(tmp, path, overwrite=True)
        return path
    directory, name = os.path.split(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path
