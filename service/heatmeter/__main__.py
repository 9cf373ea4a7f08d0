"""`python -m heatmeter` is the `heatmeter` command."""

import sys

from .cli import main

sys.exit(main())
