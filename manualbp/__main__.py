"""``python -m manualbp``: the ``manualbp`` command."""

import sys

from manualbp.cli import main

sys.exit(main())
