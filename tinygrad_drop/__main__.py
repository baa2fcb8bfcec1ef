"""``python -m tinygrad_drop``: the same as the ``tinygrad-drop`` command."""

from .cli import main

raise SystemExit(main())
