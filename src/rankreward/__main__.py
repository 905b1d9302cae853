"""Run the command line as ``python -m rankreward``, as torchrun needs."""

import sys

from rankreward.cli import main

sys.exit(main())
