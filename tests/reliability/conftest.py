import sys
from pathlib import Path

# the harness lives in reliability/ at the repository root, beside bench/
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "reliability: fault runs of the reliability harness (deselect: -m 'not reliability')",
    )
