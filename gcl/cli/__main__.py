import sys

from gcl.cli.main import main

sys.exit(main())
