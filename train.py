"""Train a stylenorm network: ``python train.py model=cyclegan norm=instance``.

Thin Hydra entry point; everything else lives in :mod:`stylenorm.train`.
"""

import hydra
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
def main(cfg: DictConfig) -> None:
    from stylenorm.train import run  # imported late so `--help` and `--cfg` stay fast

    run(cfg)


if __name__ == "__main__":
    main()
