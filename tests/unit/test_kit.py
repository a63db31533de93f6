"""Unit tests take the test kit without the local runtime."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_kit_signs_a_delivery_without_loading_the_local_runtime():
    script = ("import sys\n"
              "from tests.support.kit import provider_event, signed_delivery\n"
              "signed_delivery('stripe', 'whsec_1', provider_event('stripe', 'evt_1', 'payment_intent.succeeded'), 'http://127.0.0.1/')\n"
              "print(sorted(m for m in sys.modules if m.split('.')[0] in ('samlocal', 'activitylog_local')))\n")
    loaded = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"
