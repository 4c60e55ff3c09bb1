"""Bad input: what counts as one (the project's UserError and its subclasses, a missing or already existing file),
how it is said (one line), and leaving nothing half-written behind when a command stops on it.

    with removed_on_bad_input(args.out):    # a directory this invocation created goes again on bad input
        ...
"""

import contextlib
import os
import shutil

from tfpretrain.errors import UserError

BAD_INPUT = (UserError, FileNotFoundError, FileExistsError)


def one_line(error):
    """The error's message on one line (a multi-line message is joined with '; ')."""
    text = str(error) or type(error).__name__
    return "; ".join(part.strip() for part in text.splitlines() if part.strip())


@contextlib.contextmanager
def removed_on_bad_input(*paths):
    """Remove the local directories among `paths` that did not exist before this block when it raises bad input;
    directories that existed are left alone (the command validates its input before writing into them)."""
    created = [os.fspath(p) for p in paths if p and "://" not in os.fspath(p) and not os.path.lexists(p)]
    try:
        yield
    except BAD_INPUT:
        for path in created:
            shutil.rmtree(path, ignore_errors=True)
        raise
