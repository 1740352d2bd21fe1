"""`python -m qbtui` runs the command line."""

from qbtui.cli import main

raise SystemExit(main())
