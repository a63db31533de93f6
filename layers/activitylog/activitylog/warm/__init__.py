"""The warm tier (issue 20, first slice): the archive compacted into columnar files, read a page at a time.

Not wired into the API, the template or the local stack yet: ``compact`` and ``page`` are the
groundwork ``bench/warm.py`` measures and the integration tests exercise.
"""
