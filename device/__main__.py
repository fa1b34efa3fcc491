from device.cli.main import main

raise SystemExit(main())
