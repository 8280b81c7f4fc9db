"""`python -m soak`: run the soak and crash test (see `soak.runner`)."""

from soak.runner import main

raise SystemExit(main())
