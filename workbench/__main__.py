"""python -m workbench."""

import sys

from workbench.cli.main import main

if __name__ == "__main__":  # worker processes re-import this module: they must not run the command again
    sys.exit(main())
