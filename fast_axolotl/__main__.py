import sys

from fast_axolotl.cli import main

sys.exit(main())
