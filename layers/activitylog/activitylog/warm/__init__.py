"""The warm tier (issue 20): the archive compacted into columnar files, read a page at a time.

``compact`` turns each org's archived days older than ``HOT_TABLE_DAYS`` into Parquet files in the
warm bucket (``CompactFunction``, daily); ``page`` reads a page from them.
"""
