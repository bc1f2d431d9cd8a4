"""`python -m shared.doctor`: see `shared.doctor.cli`."""

import sys

from .cli import main

sys.exit(main())
