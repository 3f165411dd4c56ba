from scsd.cli import main

raise SystemExit(main())
