"""`python -m frittata` runs the command line."""

import sys

from frittata.cli import main

sys.exit(main())
