"""`python -m devtools`: see devtools.run."""

import sys

from devtools.run import main

sys.exit(main())
