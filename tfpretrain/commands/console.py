"""What the commands print: logging to stderr in one format, artefact paths on stdout."""

import logging

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
NOISY = ("apache_beam", "absl", "tensorflow")


def setup_logging(quiet_libraries=False):
    """INFO logs of the project on stderr; with quiet_libraries, Beam / absl / TensorFlow only from WARNING up."""
    logging.basicConfig(level=logging.INFO, format=FORMAT)
    if quiet_libraries:
        for name in NOISY:
            logging.getLogger(name).setLevel(logging.WARNING)


def print_paths(paths):
    """{artefact: path} -> one `artefact: path` line each."""
    for name, path in paths.items():
        print(f"{name}: {path}")
