"""The containers tests run on the alerting tests' isolated lanes (topics, groups, tables)."""

from tests.alerting.conftest import alert_lane

__all__ = ["alert_lane"]
