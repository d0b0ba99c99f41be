import sys
from pathlib import Path

# tests/ holds shared helpers (fakes, servers) importable by every suite.
sys.path.insert(0, str(Path(__file__).parent))
