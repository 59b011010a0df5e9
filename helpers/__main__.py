"""``python -m helpers``: the ``sentence-mtl`` command line (``helpers.cli``)."""

from .cli import main

raise SystemExit(main())
