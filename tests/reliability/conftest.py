"""The reliability suite runs on the ingest and alerting tests' isolated lanes (topics, namespace, groups)."""

from tests.alerting.conftest import alert_lane
from tests.ingest.conftest import lane

__all__ = ["alert_lane", "lane"]
