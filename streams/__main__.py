"""`python -m streams ...` runs the `streams` command."""

import sys

from streams.cli import main

sys.exit(main())
