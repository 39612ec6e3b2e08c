"""``python -m stylenorm.demo``: the same as ``stylenorm-demo``."""

import sys

from stylenorm.demo.cli import main

sys.exit(main())
