"""The shared contract: schemas, settings, catalog and storage, table definitions, query helpers."""

import contextlib
import warnings

# pyiceberg and confluent-kafka's schema registry import authlib's httpx integration, which warns on
# import; nothing we can act on. authlib puts an "always" filter for its warnings first when it is
# imported, so import it before placing ours in front. Every app imports this package first.
with contextlib.suppress(ImportError):
    import authlib.deprecate  # type: ignore[import-untyped]  # noqa: F401
warnings.filterwarnings("ignore", message="The httpx module is deprecated")
