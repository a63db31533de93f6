"""The activity log's dev tooling, on top of the generic runner (``samlocal``) and the product.

- ``cli``        the ``activitylog`` command: serve, seed, token, query, verify, prove, archive, redrive, run
- ``client``     HTTP and in-process clients of a running stack (the CLI, the seeder, tests, bench)
- ``demo``       the demo organization, written through the API
- ``generator``  realistic activity for the demo and the benchmarks
- ``archive``    where the CLI's archive commands read: the running stack's buckets or a folder
- ``package``    deployable artifacts without Docker (``make package``)
"""
