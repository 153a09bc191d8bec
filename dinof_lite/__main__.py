"""``python -m dinof_lite``: see :mod:`dinof_lite.cli`."""

import sys

from dinof_lite.cli import main

if __name__ == "__main__":
    sys.exit(main())
