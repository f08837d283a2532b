"""``python -m dynpim`` (also what ``torchrun -m dynpim`` runs)."""

import sys

from dynpim.cli import main

sys.exit(main())
