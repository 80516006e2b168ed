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
import sys
from pathlib import Path

from nets.data.loader import MANUAL, builder


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="data set, e.g. digits32 or adding_problem/t100")
    parser.add_argument("--data_dir", default=None, help="default: tfds's (~/tensorflow_datasets)")
    parser.add_argument("--manual_dir", default=None, help="files tfds reads instead of a download")
    args = parser.parse_args(argv)
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
    import tensorflow_datasets as tfds

    try:
        data.download_and_prepare(
            download_config=tfds.download.DownloadConfig(manual_dir=args.manual_dir)
        )
    except ModuleNotFoundError as error:
        if error.name != "tensorflow":
            raise
        sys.exit(
            f"error: tfds's {args.name} builder reads its source files with TensorFlow; "
            f"install it for this one step (pip install tensorflow-cpu), then run this again"
        )
    print(f"{args.name} prepared in {data.data_dir}")


if __name__ == "__main__":
    main()
