"""`python -m kb`: the command-line interface."""

import sys

from kb.cli import main

sys.exit(main())
