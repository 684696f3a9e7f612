"""``python -m manualbp.cli``: the ``manualbp`` command."""

import sys

from manualbp.cli import main

sys.exit(main())
