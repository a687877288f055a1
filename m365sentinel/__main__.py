"""``python -m m365sentinel``: the same command line as the ``m365sentinel`` script."""

import sys

from m365sentinel.cli import main

sys.exit(main())
