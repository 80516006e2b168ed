"""Prepare a data set's array_record files once, so training reads them without a network.

    python -m nets.data.prepare digits32 [--data_dir DIR]        # generated here, offline
    python -m nets.data.prepare cifar10 --data_dir DIR           # tfds downloads it (online)
    python -m nets.data.prepare free_spoken_digit --manual_dir FSDD  # from files you have
    python -m nets.data.prepare imagenet2012 --data_dir DIR --manual_dir TARS

Valid names: mnist1d, digits32, adding_problem/t{50,100,200,400}, copy_task/t{10,50,100,200}
(generated on this machine), tfds's mnist, cifar10, imdb_reviews, tiny_shakespeare
(downloaded by tfds), free_spoken_digit (``nets.data.fsdd``; downloaded, or read from
``--manual_dir``) and imagenet2012 (only from ``--manual_dir``: ILSVRC2012_img_train.tar and
ILSVRC2012_img_val.tar from image-net.org; tfds's builder reads them with TensorFlow, so this
one step needs ``pip install tensorflow-cpu``; training reads the prepared files without it).
"""

import argparse
import logging
import shutil
import socket
import sys
import urllib.parse
from pathlib import Path

from nets.data.tfds_reader import DOWNLOADED, MANUAL, builder

# where the builders of DOWNLOADED fetch their files (tfds's, and nets.data.fsdd's)
DOWNLOAD_URLS = {
    "mnist": "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "cifar10": "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
    "imdb_reviews": "http://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
    "tiny_shakespeare": (
        "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
    ),
    "free_spoken_digit": (
        "https://github.com/Jakobovski/free-spoken-digit-dataset/archive/v1.0.9.tar.gz"
    ),
}
CONNECT_TIMEOUT = 5.0  # seconds to reach a data set's host before giving up


def unreachable(url: str, timeout: float = CONNECT_TIMEOUT) -> str | None:
    """Why ``url``'s host cannot be reached (a name that does not resolve, a network that is
    down, a connection refused or timed out), or None once a connection opens. tfds itself
    retries a failed download for minutes; this answers within ``timeout``."""
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout).close()
    except OSError as error:
        return str(error) or type(error).__name__
    return None


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="data set, e.g. digits32 or adding_problem/t100")
    parser.add_argument("--data_dir", default=None, help="default: tfds's (~/tensorflow_datasets)")
    parser.add_argument("--manual_dir", default=None, help="files tfds reads instead of a download")
    args = parser.parse_args(argv)
    logging.getLogger("absl").setLevel(logging.ERROR)  # tfds's notes on folders it looks into
    try:
        data = builder(args.name, args.data_dir)
    except ValueError as error:
        sys.exit(f"error: {error}")
    needed = MANUAL[args.name].files if args.name in MANUAL else ()
    missing = [f for f in needed if not (args.manual_dir and Path(args.manual_dir, f).is_file())]
    if missing:  # before tfds makes any directory
        sys.exit(
            f"error: {args.name} is prepared from files you download yourself: "
            f"{MANUAL[args.name]} in the directory given as --manual_dir; missing: "
            f"{', '.join(missing)}"
        )
    base = args.name.partition("/")[0]
    if base in DOWNLOADED and not args.manual_dir and not data.is_prepared():
        why = unreachable(DOWNLOAD_URLS[base])
        if why is not None:  # before tfds makes any directory
            sys.exit(
                f"error: cannot download {DOWNLOAD_URLS[base]}: {why}; prepare it on a machine "
                f"with network access, or pass --manual_dir"
            )
    import tensorflow_datasets as tfds

    root = Path(data.data_dir_root)
    existed = set(root.iterdir()) if root.is_dir() else None
    try:
        data.download_and_prepare(
            download_config=tfds.download.DownloadConfig(manual_dir=args.manual_dir)
        )
    except KeyboardInterrupt:
        _remove_new(root, existed)
        sys.exit(130)
    except Exception as error:
        _remove_new(root, existed)  # a failed download leaves no half-written folder
        if isinstance(error, ModuleNotFoundError) and error.name == "tensorflow":
            sys.exit(
                f"error: tfds's {args.name} builder reads its source files with TensorFlow; "
                f"install it for this one step (pip install tensorflow-cpu), then run this again"
            )
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        sys.exit(f"error: preparing {args.name} failed: {first}")
    print(f"{args.name} prepared in {data.data_dir}")


def _remove_new(root: Path, existed: set | None) -> None:
    """Remove what a failed preparation created under ``root`` (all of it if it is new)."""
    if existed is None:
        shutil.rmtree(root, ignore_errors=True)
        return
    for path in set(root.iterdir()) - existed:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink()


if __name__ == "__main__":
    main()
