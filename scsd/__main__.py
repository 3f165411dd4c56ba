from scsd.cli.main import main

raise SystemExit(main())
