"""Train a stylenorm network: ``python train.py model=cyclegan norm=instance``.

Thin Hydra entry point; everything else lives in :mod:`stylenorm.train`. ``--help`` lists the
config groups, ``--cfg job`` prints the composed config.
"""

import hydra
from omegaconf import DictConfig

from stylenorm.cores import register_usable_cores_resolver

register_usable_cores_resolver()  # configs/hydra/launcher/parallel.yaml: as many runs at once as there are cores


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
def main(cfg: DictConfig) -> float | None:
    from stylenorm.train import run  # imported late so `--help` and `--cfg` stay fast

    metrics = run(cfg)
    # Hydra sweepers (e.g. Optuna) read the return value; the first hparam metric, if logged.
    return next((value for key, value in metrics.items() if key.startswith("val/")), None)


if __name__ == "__main__":
    main()
