"""`python -m watchtrain.cli ...`: the `watchtrain` command without its console script (Gradescope's run_autograder uses it)."""
import sys

from watchtrain.cli import main

sys.exit(main())
