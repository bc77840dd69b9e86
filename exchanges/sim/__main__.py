"""``python -m exchanges.sim binance --port-base N``: see ``exchanges.sim.cli``."""

import sys

from exchanges.sim.cli import main

sys.exit(main())
