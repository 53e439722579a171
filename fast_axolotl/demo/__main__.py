"""``python -m fast_axolotl.demo``: the same as ``fast-axolotl demo``."""

import sys

from fast_axolotl.demo import main

sys.exit(main())
