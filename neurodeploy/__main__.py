"""``python -m neurodeploy`` runs the command-line interface."""
import sys

from neurodeploy.cli import main

sys.exit(main())
