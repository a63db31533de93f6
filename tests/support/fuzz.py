"""The fuzz tier's own org: its token and webhook secrets (tests/fuzz/conftest.py) and its checks (test_openapi.py)."""

FUZZ_ORG = "org_fuzz"
