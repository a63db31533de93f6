"""Powertools Logger (JSON, correlation id) and Metrics (EMF), one instance each per process.

Functions get them, and the Tracer where tracing is on, through ``activitylog.wiring.entrypoint``;
features import ``logger`` and ``metrics`` to log and count.
"""

from __future__ import annotations

import warnings

from aws_lambda_powertools import Logger, Metrics

logger = Logger(service="activity-log")
metrics = Metrics(namespace="ActivityLog", service="activity-log")
# A request that records no metric (the OpenAPI document, an unknown route) is normal here;
# this is Powertools' documented filter for its warning about an empty flush.
warnings.filterwarnings("ignore", "No application metrics to publish")
