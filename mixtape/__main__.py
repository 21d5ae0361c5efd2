"""`python -m mixtape`: see mixtape.run."""

import sys

from mixtape.run import main

sys.exit(main())
