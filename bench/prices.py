"""List prices, US East (N. Virginia), on-demand, in US dollars: the cost report's one table.

Checked 2026-11-27 against these pages (the stored copies the team's search tool serves):
- DynamoDB storage: https://aws.amazon.com/dynamodb/pricing/ ("prices start from $0.25 per
  GB-month"). Standard-IA storage is $0.10 per GB-month (60% less) per the same page's
  table-class section; that figure was not in the stored excerpt: verify it there.
- DynamoDB on-demand requests: https://aws.amazon.com/dynamodb/pricing/on-demand (units),
  $0.625 per million write and $0.125 per million read request units after the
  November 2024 cut (https://airbyte.com/data-engineering-resources/dynamodb-pricing,
  2025-07-21). Standard-IA requests cost 1.25× Standard's, the ratio the China regions'
  page shows (https://www.amazonaws.cn/en/dynamodb/pricing/: ¥0.0725 vs ¥0.058): verify
  the US figures on the on-demand page.
- DynamoDB point-in-time recovery: $0.20 per GB-month of table data (on-demand page,
  "Continuous backups"; not in the stored excerpt: verify). Streams read by Lambda: free.
- S3 Standard: $0.023 per GB-month, $0.005 per 1,000 PUTs (https://aws.amazon.com/s3/pricing).
  LIST is billed as a PUT ("PUT, COPY, POST, LIST requests"), HEAD as a GET ("GET, SELECT, and all
  other requests"): the request classes as AWS's price list names them (seen in aws-samples'
  sample-cfm-tips-mcp, services/s3_pricing.py). GET: $0.0004 per 1,000 on the same S3 pricing page;
  the stored copies render that table as template tokens, so the figure is not in any excerpt the
  search tool served (2026-12-05): verify it there.
- Lambda arm64: $0.20 per million requests, $0.0000133334 per GB-second, first tier
  (https://cloudchipr.com/blog/aws-lambda-pricing; https://aws.amazon.com/lambda/pricing/).
- API Gateway HTTP API: $1.00 per million requests, first 300 million a month
  (https://aws.amazon.com/api-gateway/pricing/; https://awsforengineers.com/blog/aws-api-gateway-pricing-explained, 2025-05-19).
Free tiers are left out: they do not scale with entries.
"""

from __future__ import annotations

GIB = 2**30  # AWS bills storage per GB-month of 2^30 bytes

DYNAMODB = {
    "STANDARD": {"storage_gb_month": 0.25, "write_unit": 0.625e-6, "read_unit": 0.125e-6},
    "STANDARD_INFREQUENT_ACCESS": {"storage_gb_month": 0.10, "write_unit": 0.78125e-6, "read_unit": 0.15625e-6},
}
PITR_GB_MONTH = 0.20
S3_STANDARD_GB_MONTH = 0.023
S3_PUT = 0.005 / 1000  # and LIST
S3_GET = 0.0004 / 1000  # and HEAD
LAMBDA_REQUEST = 0.20e-6
LAMBDA_GB_SECOND = {"arm64": 0.0000133334, "x86_64": 0.0000166667}
HTTP_API_REQUEST = 1.00e-6

# For scale, per million entries (the figures).
CLOUDTRAIL_PER_MILLION = 20.0  # delivered events, storage extra
WORKOS_PER_MILLION_MONTH = 99.0  # stored, per month
