"""Train a stylenorm network: ``python train.py model=cyclegan norm=instance``.

The Hydra entry point (``--help``: config groups; ``--cfg job``: the composed config); the run itself
is :func:`stylenorm.train.run`, its folder is decided in configs/train.yaml.
"""

import logging
import os
import sys

import hydra
from omegaconf import DictConfig

from stylenorm.run_folder import register_resolvers

register_resolvers()  # every ${name:...} of configs/


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
def main(cfg: DictConfig) -> float | None:
    from stylenorm.checkpoint_io import CheckpointWriteError  # imported late: `--help` and `--cfg` stay fast
    from stylenorm.config_checks import ConfigError
    from stylenorm.train import run

    try:
        metrics = run(cfg)
    except (ConfigError, FileNotFoundError, CheckpointWriteError) as error:  # what to do, without a traceback
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        logging.getLogger("train").error("%s", error)
        sys.exit(1 if isinstance(error, CheckpointWriteError) else 2)
    # Hydra sweepers (e.g. Optuna) read the return value: the first validation metric, if logged.
    return next((value for key, value in metrics.items() if key.startswith("val/")), None)


if __name__ == "__main__":
    main()
