"""The commands, one module per group; importing a module registers its commands on `oneedit.cli.app.app`."""
