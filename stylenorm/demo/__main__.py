"""``python -m stylenorm.demo``: the same as ``stylenorm-demo``."""

from stylenorm.demo.cli import main

raise SystemExit(main())
