import sys

from ornament_pipeline.auditor.main import main

sys.exit(main())
