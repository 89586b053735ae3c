"""The `harmony` command: one entry point that composes every component's own CLI."""

import warnings

# pyiceberg imports authlib's httpx integration, which warns on import; nothing we can act on.
warnings.filterwarnings("ignore", message="The httpx module is deprecated")
