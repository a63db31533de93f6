"""The digest function: every hour, a signed digest for each org whose versions were archived.

Scheduled hourly (template.yaml); ``activitylog run DigestFunction --event '{"until": "…"}'``
digests up to a given time. Its role reads the archive's manifests, writes digests and heads
to the Object Lock bucket, and may ask KMS to sign; it reads no archived entry.
"""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from activitylog.archive.digests import Digester
from activitylog.observability import logger, metrics, traced

_digester = None


@logger.inject_lambda_context(clear_state=True)
@traced
@metrics.log_metrics
def lambda_handler(event: dict, context: Any) -> dict:
    global _digester
    if _digester is None:
        _digester = Digester.from_environment()
    done = _digester.run(_digester.cut_for(event or {}))
    metrics.add_metric(name="DigestsWritten", unit=MetricUnit.Count, value=done["orgs"])
    metrics.add_metric(name="VersionsDigested", unit=MetricUnit.Count, value=done["versions"])
    logger.info("digests written", extra=done)
    return done
