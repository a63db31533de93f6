"""The archive: every version of every entry, in S3, for as long as the org's archive retention.

- ``layout``   where things are: data objects by org and date (what Athena and DuckDB prune by),
               per-invocation manifests, digests and their chain heads
- ``lines``    one archived version of one entry: a canonical JSON line, and its SHA-256
- ``store``    the S3 side (the only module here that talks to S3)
- ``writer``   the stream consumer: a batch of stream records becomes a few gzip JSON-lines
               objects, keyed by stream sequence numbers, and one manifest
- ``lookup``   one entry by id from the archive (support), the latest version and its expiry
- ``query``    the archive with DuckDB, filtered like ``GET /activities`` (compacted days from the warm files)
- ``digests``  tamper evidence: hourly signed digests chained per org, signed Merkle checkpoints,
               and their verification against pinned keys
- ``merkle``   the RFC 9162 tree per org: leaves, frontier, roots, inclusion and consistency proofs
- ``proof``    one entry's proof bundle, checked offline by ``docs/check_proof.py``
- ``signing``  the digest signature: KMS in AWS, a local key file in development

The archive function runs ``container().archiver.archive(records)`` on each batch of the table's stream.
"""
