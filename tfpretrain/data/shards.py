"""tf.Example serialisation of prepared examples and atomic shard files (temp name, then rename).

A shard exists under its final name only once every record is written and the file is closed, so a killed run
leaves at most dot-prefixed temp files, which no shard glob matches and the next run removes.
"""

import posixpath
import uuid

import numpy as np

TEMP_PREFIX = "."
TEMP_MARKER = ".tmp-"


def serialize_example(example, spec):
    """dict of int sequences -> serialized tf.train.Example with one int64 list per key in `spec` (shape check)."""
    import tensorflow as tf

    feature = {}
    for key, shape in spec.items():
        values = np.asarray(example[key], np.int64).reshape(-1)
        if values.size != int(np.prod(shape)):
            raise ValueError(f"feature {key!r} has {values.size} values, the record schema says {shape}")
        feature[key] = tf.train.Feature(int64_list=tf.train.Int64List(value=values))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def temp_path(path):
    directory, name = posixpath.split(path)
    return posixpath.join(directory, f"{TEMP_PREFIX}{name}{TEMP_MARKER}{uuid.uuid4().hex[:8]}")


def write_shard(path, records, compression=""):
    """Write serialized records to `path` atomically; returns the record count."""
    import tensorflow as tf

    tmp = temp_path(path)
    count = 0
    try:
        with tf.io.TFRecordWriter(tmp, options=tf.io.TFRecordOptions(compression_type=compression)) as writer:
            for record in records:
                writer.write(record)
                count += 1
        tf.io.gfile.rename(tmp, path, overwrite=True)
    except BaseException:
        if tf.io.gfile.exists(tmp):
            tf.io.gfile.remove(tmp)
        raise
    return count


def remove_temp_files(directory):
    """Delete temp files a killed run left behind (dot-prefixed names with the temp marker)."""
    import tensorflow as tf

    removed = []
    for path in tf.io.gfile.glob(posixpath.join(directory, f"{TEMP_PREFIX}*{TEMP_MARKER}*")):
        tf.io.gfile.remove(path)
        removed.append(path)
    return removed
