import sys

from resnetdsl.cli import main

sys.exit(main())
