"""Prepare a data set's array_record files once, so training reads them without a network.

    python -m nets.data.prepare digits32 [--data_dir DIR]        # generated here, offline
    python -m nets.data.prepare cifar10 --data_dir DIR           # tfds downloads it (online)
    python -m nets.data.prepare free_spoken_digit --manual_dir FSDD  # from files you have

Valid names: mnist1d, digits32, adding_problem/t{50,100,200,400}, copy_task/t{10,50,100,200}
(generated on this machine), tfds's mnist, cifar10, imdb_reviews, tiny_shakespeare
(downloaded by tfds) and free_spoken_digit (``nets.data.fsdd``; downloaded, or read from
``--manual_dir``).
"""

import argparse
import sys

from nets.data.loader import builder


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
    import tensorflow_datasets as tfds

    data.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=args.manual_dir)
    )
    print(f"{args.name} prepared in {data.data_dir}")


if __name__ == "__main__":
    main()
