"""The dashboard's read path must stay light: no pydantic, no boto3, no X-Ray SDK at import."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_importing_the_api_handler_loads_neither_pydantic_nor_boto3_nor_xray():
    probe = (
        "import sys, json; sys.path.insert(0, 'functions/query'); import app; "
        "print(json.dumps({m: m in sys.modules for m in ('pydantic', 'boto3', 'aws_xray_sdk', 'ulid')}))"
    )
    env = {"PATH": "/usr/bin:/bin", "POWERTOOLS_TRACE_DISABLED": "true", "AWS_DEFAULT_REGION": "us-east-1"}
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"pydantic": False, "boto3": False, "aws_xray_sdk": False, "ulid": False}
