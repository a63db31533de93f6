"""The digest function: every hour, a signed digest and Merkle checkpoint for each org whose versions were archived.

Scheduled hourly (template.yaml); ``activitylog run DigestFunction --event '{"until": "…"}'``
digests up to a given time. Its role reads the archive's manifests, writes digests, checkpoints and heads
to the Object Lock bucket, and may ask KMS to sign; it reads no archived entry.
"""

from aws_lambda_powertools.metrics import MetricUnit

from activitylog.archive.digests import Digester
from activitylog.observability import logger, metrics
from activitylog.wiring import SCHEDULE, container, entrypoint


def digest(digester: Digester, event: dict) -> dict:
    done = digester.run(digester.cut_for(event))
    metrics.add_metric(name="DigestsWritten", unit=MetricUnit.Count, value=done["orgs"])
    metrics.add_metric(name="VersionsDigested", unit=MetricUnit.Count, value=done["versions"])
    logger.info("digests written", extra=done)
    return done


lambda_handler = entrypoint(SCHEDULE, lambda event, context: digest(container().digester, event or {}))
