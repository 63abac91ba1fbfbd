import sys

from credax._src.cli._run import main

sys.exit(main())
