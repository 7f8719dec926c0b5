"""``python -m tfp_genmodels.cli``: the same as the ``tfp-genmodels`` command."""

import sys

from tfp_genmodels.cli.main import main

sys.exit(main())
