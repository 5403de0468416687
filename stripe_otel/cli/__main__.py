"""``python -m stripe_otel.cli`` is ``stripe-otel``."""

import sys

from stripe_otel.cli import main

sys.exit(main())
