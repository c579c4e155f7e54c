"""Known vulnerabilities in the locked dependencies (pip-audit on requirements.lock), for .ci/run.

Fails (exit 1) on a finding that is not listed in .ci/pip-audit-ignore.txt. When the vulnerability service
cannot be reached, or answers for too few of the packages, it prints a clear warning and exits 0: network
trouble must not fail CI, and the warning says that nothing was proven.

    python .ci/audit_deps.py [--lock requirements.lock] [--report saved-pip-audit.json]

``--report`` reads a saved ``pip-audit -f json`` report instead of running pip-audit (to check this script).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
IGNORE_FILE = HERE / "pip-audit-ignore.txt"
# Below this share of packages actually looked up, the run says "not audited" instead of "clean".
MIN_AUDITED_SHARE = 0.5
TIMEOUT_SECONDS = 600
NETWORK_TROUBLE = re.compile(r"ConnectionError|NameResolution|Max retries|timed out|Temporary failure|"
                             r"Connection refused|Network is unreachable|SSLError|HTTPError: 5\d\d", re.I)
NOT_LOOKED_UP = re.compile(r"not found on PyPI|could not be audited", re.I)


def ignored_ids(path: Path = IGNORE_FILE) -> dict[str, str]:
    """``ID  reason (date)`` per line; ``#`` starts a comment."""
    ids: dict[str, str] = {}
    if not path.exists():
        return ids
    for line in path.read_text(encoding="utf-8").splitlines():
        text = line.split("#", 1)[0].strip()
        if text:
            vuln_id, _, reason = text.partition(" ")
            ids[vuln_id] = reason.strip()
    return ids


def run_pip_audit(lock: Path) -> tuple[dict | None, str]:
    """The parsed JSON report, or None and pip-audit's error output."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "audit.json"
        command = [sys.executable, "-m", "pip_audit", "-r", str(lock), "--require-hashes", "--disable-pip",
                   "--progress-spinner", "off", "-f", "json", "-o", str(out)]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            return None, "pip-audit timed out"
        if not out.exists() or not out.read_text().strip():
            return None, (done.stderr or done.stdout)[-3000:]
        return json.loads(out.read_text()), done.stderr[-3000:]


def judge(report: dict, ignore: dict[str, str]) -> int:
    dependencies = report.get("dependencies", [])
    findings: list[str] = []
    ignored: list[str] = []
    skipped = 0
    for dep in dependencies:
        if "skip_reason" in dep:
            skipped += NOT_LOOKED_UP.search(dep["skip_reason"]) is not None
            continue
        for vuln in dep.get("vulns", []):
            names = {vuln["id"], *vuln.get("aliases", [])}
            fixed = ", ".join(vuln.get("fix_versions", [])) or "no fixed release"
            line = f"{dep['name']} {dep['version']}: {vuln['id']} (fixed in: {fixed})"
            (ignored if names & ignore.keys() else findings).append(line)
    audited = len(dependencies) - skipped
    for line in ignored:
        print(f"pip-audit: ignored (see {IGNORE_FILE.name}): {line}")
    if findings:
        print("pip-audit: known vulnerabilities in requirements.lock:")
        for line in findings:
            print(f"  {line}")
        print("Move the pin on (make lock LOCK_ARGS=\"--upgrade-package NAME\"), or, when no fixed release "
              f"exists, list the id in .ci/{IGNORE_FILE.name} with the reason and the date.")
        return 1
    if not dependencies or audited < MIN_AUDITED_SHARE * len(dependencies):
        print(f"WARNING: pip-audit could look up only {audited} of {len(dependencies)} locked packages: the "
              "vulnerability service is not reachable from here. The dependencies were NOT audited.")
        return 0
    print(f"pip-audit: no known vulnerabilities in {audited} locked packages "
          f"({skipped} could not be looked up).")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lock", type=Path, default=HERE.parent / "requirements.lock")
    parser.add_argument("--report", type=Path, help="a saved `pip-audit -f json` report to judge")
    args = parser.parse_args()
    if args.report:
        return judge(json.loads(args.report.read_text()), ignored_ids())
    report, errors = run_pip_audit(args.lock)
    if report is None:
        if NETWORK_TROUBLE.search(errors):
            last = errors.strip().splitlines()[-1:] or [""]
            print(f"WARNING: the vulnerability service could not be reached ({last[0][:200]}). "
                  "The dependencies were NOT audited.")
            return 0
        print(f"pip-audit failed:\n{errors}")
        return 1
    return judge(report, ignored_ids())


if __name__ == "__main__":
    sys.exit(main())
