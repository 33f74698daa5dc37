"""`python -m engine.cli`: the `tandem` command line."""

import sys

from engine.cli import main

sys.exit(main())
