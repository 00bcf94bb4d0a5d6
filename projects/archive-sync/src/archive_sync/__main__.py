import sys

from archive_sync.cli import main

sys.exit(main())
