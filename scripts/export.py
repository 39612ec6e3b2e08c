"""Export a checkpoint's network to ONNX or TorchScript (see README, "Stylize and translate").

    python scripts/export.py --checkpoint mosaic.pth --format onnx --output mosaic.onnx

Same as the installed ``stylenorm-export`` command; the work is done in :func:`stylenorm.inference.cli.export_main`.
"""

import sys

from stylenorm.inference.cli import export_main as main

if __name__ == "__main__":
    sys.exit(main())
