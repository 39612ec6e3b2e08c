"""Download one of the public CycleGAN datasets (horse2zebra, monet2photo, ...) for users who are online.

    python scripts/download_cyclegan_dataset.py horse2zebra --out data
    python train.py model=cyclegan data=unpaired data.root=data/horse2zebra

The archives are the ones the original CycleGAN repository's ``datasets/download_cyclegan_dataset.sh``
fetches; they unpack to the trainA/ trainB/ testA/ testB/ layout that ``data=unpaired`` reads.
Nothing in the project calls this at run time or in tests (the embedded data needs no network).
"""

from __future__ import annotations

import argparse
import sys
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

BASE_URL = "https://efrosgans.eecs.berkeley.edu/cyclegan/datasets"
DATASETS = (
    "apple2orange", "summer2winter_yosemite", "horse2zebra", "monet2photo", "cezanne2photo", "ukiyoe2photo",
    "vangogh2photo", "maps", "cityscapes", "facades", "iphone2dslr_flower", "mini", "mini_pix2pix", "mini_colorization",
)  # fmt: skip


def dataset_url(name: str) -> str:
    if name not in DATASETS:
        raise ValueError(f"Unknown dataset {name!r}; expected one of {', '.join(DATASETS)}.")
    return f"{BASE_URL}/{name}.zip"


def download(name: str, out_dir: Path, opener=urllib.request.urlopen) -> Path:
    """Fetch ``<name>.zip`` into ``out_dir`` and unpack it; returns ``out_dir/<name>``."""
    url = dataset_url(name)
    out_dir.mkdir(parents=True, exist_ok=True)
    archive = out_dir / f"{name}.zip"
    partial = archive.with_suffix(".zip.partial")
    try:
        with opener(url, timeout=60) as response, open(partial, "wb") as file:
            while chunk := response.read(1 << 20):
                file.write(chunk)
    except (urllib.error.URLError, OSError) as error:
        partial.unlink(missing_ok=True)
        raise RuntimeError(
            f"Could not download {url}: {error}. This needs internet access; on a machine that has it, "
            f"download the file and unzip it into {out_dir}/ so that {out_dir / name}/trainA exists."
        ) from error
    partial.rename(archive)
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(out_dir)
    archive.unlink()
    return out_dir / name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=DATASETS, help="dataset to fetch")
    parser.add_argument("--out", type=Path, default=Path("data"), help="folder to unpack into (default: data)")
    args = parser.parse_args(argv)
    try:
        root = download(args.name, args.out)
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"{root} is ready: python train.py model=cyclegan data=unpaired data.root={root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
