import signal
import sys
import threading
from pathlib import Path

from newsagg.cli.supervisor import CONFIG_ERROR, Supervisor


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def stop_after(supervisor: Supervisor, seconds: float) -> None:
    threading.Timer(seconds, lambda: supervisor._request_stop(signal.SIGTERM, None)).start()


def test_a_configuration_error_stops_everything(tmp_path: Path):
    supervisor = Supervisor(
        commands={
            "bad": python("raise SystemExit(2)"),
            "good": python("import time; time.sleep(60)"),
        }
    )
    assert supervisor.run() == CONFIG_ERROR
    assert all(child.process.poll() is not None for child in supervisor.children)


def test_a_crashed_service_is_restarted(tmp_path: Path):
    marker = tmp_path / "starts"
    code = f"open({str(marker)!r}, 'a').write('x'); raise SystemExit(1)"
    supervisor = Supervisor(commands={"flaky": python(code)})
    stop_after(supervisor, 2.5)
    assert supervisor.run() == 0
    assert len(marker.read_text()) >= 2
    assert supervisor.children[0].restarts >= 1


def test_stop_sends_sigterm_and_waits(tmp_path: Path):
    marker = tmp_path / "terminated"
    code = (
        "import signal, sys, time\n"
        f"def done(*_):\n    open({str(marker)!r}, 'w').write('ok')\n    sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, done)\n"
        "time.sleep(60)\n"
    )
    supervisor = Supervisor(commands={"svc": python(code)})
    stop_after(supervisor, 1.0)
    assert supervisor.run() == 0
    assert marker.read_text() == "ok"
    assert supervisor.children[0].process.returncode == 0
