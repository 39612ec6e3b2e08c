"""Stylize or translate images with a checkpoint (see README, "Stylize and translate").

    python scripts/stylize.py --checkpoint mosaic.pth --input photo.jpg --output photo_mosaic.png

Same as the installed ``stylenorm-stylize`` command; the work is done in :mod:`stylenorm.inference.cli`.
"""

import sys

from stylenorm.inference.cli import main

if __name__ == "__main__":
    sys.exit(main())
