import sys

from image_matching.cli import main

sys.exit(main())
