"""``python -m kube``: see kube.cli."""

from kube.cli import main

raise SystemExit(main())
