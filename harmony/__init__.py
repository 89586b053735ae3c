"""The `harmony` command: one entry point that composes every component's own CLI."""
