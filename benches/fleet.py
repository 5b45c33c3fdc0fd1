"""Fleet benchmark: how long `fleet apply`, `fleet plan` and `list-api-keys` take for fleets of 10, 100 and
500 business units, and how many AWS calls they make, against the local AWS emulator with 50 ms of injected
latency on every AWS call (a fault rule on action "*"), so wall time is dominated by round trips as on AWS.
Prints figures; asserts nothing but that each command succeeded.

For each size the emulator is reset (a fresh account, 123456789012), a manifest of N units is written (each
with purpose, owner, a cost-center tag, a monthly budget and a key delivered to a file), then:
  - `fleet apply` (--concurrency 8) creates every unit; `fleet plan` then has nothing to do (exit 0);
  - `list-api-keys` lists every unit's keys.
AWS calls are counted from the emulator's request log (its length before and after each command; the bench
raises the log's cap with BPEMU_MAX_RECORDED). For apply and plan it prints wall time, calls, calls per
second, the ideal time (calls x 50 ms / concurrency: perfect overlap, zero client cost) and wall / ideal; for
list-api-keys wall time and calls. Under each command, its calls per action and how many AWS answered with an
error (expected ones included: GetUser of a user not yet created), to show what grows with the fleet.
The binary's environment is only emulator credentials, a key directory and an audit log in a temporary HOME.

Then one new unit by hand, the seed's path (its troubleshooting guide and DESIGN.md): five AWS CLI commands,
create-user, tag-user, create-policy (a least-privilege Bedrock document), attach-user-policy and
create-service-specific-credential, versus the binary's `provision-user` + `create-api-key --deliver file`;
each in a fresh account with the same 50 ms latency. Needs `--awscli PATH` (PyPI `awscli`, v1).

Usage: python benches/fleet.py PATH_TO_BINARY [--sizes 10,100,500] [--awscli PATH_TO_AWS]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
LATENCY_MS = 50
LEASE_SETTLE_MS = 250  # core::settings::Settings::lease_settle
CONCURRENCY = 8
ACCOUNT = "123456789012"
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Emulator:
    """tests/emulator/serve on a free port, stopped when this process's stdin pipe to it closes."""

    def __init__(self, workdir):
        env = dict(os.environ, BPEMU_MAX_RECORDED="10000000")
        self.log = open(workdir / "emulator.log", "w")
        self.process = subprocess.Popen([ROOT / "tests/emulator/serve", "--port", "0", "--watch-stdin"],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
                                        env=env, text=True)
        line = self.process.stdout.readline()
        if not line.startswith("READY "):
            sys.exit(f"the emulator did not start; see {self.log.name}")
        self.endpoint = f"http://127.0.0.1:{line.split()[1]}"

    def control(self, method, command, body=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.endpoint}/_emulator/{command}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with NO_PROXY.open(request) as reply:
            return json.loads(reply.read())

    def fresh(self):
        """A fresh account, every AWS call delayed by LATENCY_MS."""
        self.control("POST", "reset")
        self.control("POST", "faults", {"action": "*", "kind": "latency", "latency_ms": LATENCY_MS})

    def requests(self):
        return self.control("GET", "requests")["requests"]

    def stop(self):
        self.process.stdin.close()
        self.process.wait(timeout=10)
        self.log.close()


def aws_env(emulator, home):
    """Emulator credentials for the binary and the AWS CLI; nothing inherited but PATH."""
    return {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "AWS_ENDPOINT_URL": emulator.endpoint,
            "AWS_ACCESS_KEY_ID": ACCOUNT, "AWS_SECRET_ACCESS_KEY": "emulator", "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": str(home / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(home / "none"),
            "BEDROCK_PROVISIONER_KEY_DIR": str(home / "keys"),
            "BEDROCK_PROVISIONER_AUDIT_LOG": str(home / "audit.jsonl")}


def run(emulator, command, env, accept=(0,)):
    """(wall seconds, the AWS requests it made, exit code, stdout) of one command; exits when it fails."""
    before = len(emulator.requests())
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode not in accept:
        print(f"FAILED (exit {done.returncode}): {' '.join(map(str, command))}\n"
              f"--- stdout\n{done.stdout[-4000:]}\n--- stderr\n{done.stderr[-4000:]}", file=sys.stderr)
        sys.exit(1)
    return wall, emulator.requests()[before:], done.returncode, done.stdout


def manifest(size):
    units = "".join(
        f'\n[[unit]]\nname = "bench-{i:04}"\npurpose = "benchmark unit {i}"\nowner = "team-{i:04}@example.com"\n'
        f'tags = {{ cost-center = "cc-{i:04}" }}\n'
        f'budget = {{ monthly_usd = {100 + i}, emails = ["finops@example.com"] }}\n'
        f'key = {{ deliver = "file" }}\n'
        for i in range(1, size + 1))
    return "# benches/fleet.py\n" + units


def figures(name, wall, calls, concurrency=CONCURRENCY):
    ideal = len(calls) * LATENCY_MS / 1000 / concurrency
    ratio = f"{wall / ideal:5.2f}" if ideal else "    -"
    print(f"  {name:<14}: {wall:7.2f} s  {len(calls):6} calls  {len(calls) / wall:6.1f} calls/s  "
          f"ideal {ideal:6.2f} s  wall/ideal {ratio}")
    keys = sum(1 for c in calls if c["action"] == "CreateServiceSpecificCredential")
    if keys:
        # Each key operation waits LEASE_SETTLE_MS after writing its lease, then reads it back (IAM has no
        # compare-and-set): a pause no overlap of calls can hide within a unit.
        settled = ideal + keys * LEASE_SETTLE_MS / 1000 / concurrency
        print(f"    with the key lease's {LEASE_SETTLE_MS} ms settle per key: ideal {settled:6.2f} s  "
              f"wall/ideal {wall / settled:5.2f}")
    print(f"    {per_action(calls)}")


def per_action(calls):
    """Calls per action, most first, with how many of them AWS answered with an error."""
    failed = Counter(c["action"] for c in calls if c.get("status", 500) >= 400)
    return ", ".join(f"{action} {n}" + (f" ({failed[action]} errors)" if failed[action] else "")
                     for action, n in Counter(c["action"] for c in calls).most_common())


def bench_fleet(emulator, binary, size, home):
    emulator.fresh()
    path = home / f"fleet-{size}.toml"
    path.write_text(manifest(size))
    env = aws_env(emulator, home)
    print(f"fleet of {size} units ({LATENCY_MS} ms per AWS call, --concurrency {CONCURRENCY})")
    fleet = [binary, "fleet"]
    wall, calls, _, _ = run(emulator, fleet + ["apply", path, "--concurrency", str(CONCURRENCY)], env)
    figures("fleet apply", wall, calls)
    wall, calls, code, out = run(emulator, fleet + ["plan", path, "--concurrency", str(CONCURRENCY)], env,
                                 accept=(0, 2))
    figures("fleet plan", wall, calls)
    if code == 2:
        print(f"  NOTE: fleet plan exited 2 (changes pending right after apply):\n{out[-2000:]}")
    wall, calls, _, out = run(emulator, [binary, "list-api-keys", "--output", "json"], env)
    keys = len(json.loads(out)["keys"])
    print(f"  {'list-api-keys':<14}: {wall:7.2f} s  {len(calls):6} calls  ({keys} keys; {per_action(calls)})")


def bench_enforce(emulator, binary, size, home):
    """`enforce` over the fleet just applied, a tenth of its units capped: one usage query for all of them."""
    env = aws_env(emulator, home)
    run(emulator, [binary, "enable-usage-logging", "--yes"], env)
    for i in range(1, size + 1, 10):
        run(emulator, [binary, "set-spend-cap", "--business-unit", f"bench-{i:04}", "--monthly-cap-usd", "5",
                       "--yes"], env)
    wall, calls, _, _ = run(emulator, [binary, "enforce"], env)
    queries = sum(1 for c in calls if c["action"] == "StartQuery")
    print(f"enforce over {size} units ({(size + 9) // 10} capped, {LATENCY_MS} ms per AWS call)")
    print(f"  {'enforce':<14}: {wall:7.2f} s  {len(calls):6} calls  ({queries} usage query; {per_action(calls)})")
    if queries != 1:
        sys.exit(f"enforce made {queries} usage queries for {size} units; one is the design")


def bench_manual(emulator, binary, awscli, home):
    """The seed's five AWS CLI commands for one unit, then the binary's two, each in a fresh account."""
    env = aws_env(emulator, home)
    user = "manual-bedrock-user"
    document = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"],
         "Resource": ["arn:aws:bedrock:*::foundation-model/anthropic.*",
                      f"arn:aws:bedrock:*:{ACCOUNT}:inference-profile/*"]},
        {"Effect": "Allow", "Action": ["bedrock:CallWithBearerToken"], "Resource": "*"}]})
    iam = [awscli, "iam", "--output", "json"]
    by_hand = [
        iam + ["create-user", "--user-name", user],
        iam + ["tag-user", "--user-name", user, "--tags", "Key=business-unit,Value=manual",
               "Key=purpose,Value=benchmark", "Key=owner,Value=team@example.com"],
        iam + ["create-policy", "--policy-name", "BedrockClaudeAccess", "--policy-document", document],
        iam + ["attach-user-policy", "--user-name", user,
               "--policy-arn", f"arn:aws:iam::{ACCOUNT}:policy/BedrockClaudeAccess"],
        iam + ["create-service-specific-credential", "--user-name", user,
               "--service-name", "bedrock.amazonaws.com", "--credential-age-days", "30"],
    ]
    unit = ["--business-unit", "manual"]
    ours = [
        [binary, "provision-user", *unit, "--purpose", "benchmark", "--owner", "team@example.com"],
        [binary, "create-api-key", *unit, "--deliver", "file"],
    ]
    results = []
    for commands in (by_hand, ours):
        emulator.fresh()
        steps = [run(emulator, command, env) for command in commands]
        results.append((sum(s[0] for s in steps), [c for s in steps for c in s[1]], len(commands)))
    print(f"one new unit with a key, fresh account ({LATENCY_MS} ms per AWS call)")
    for name, (wall, calls, processes) in zip(("AWS CLI (seed's path)", "bedrock-provisioner"), results):
        print(f"  {name:<22}: {wall:6.2f} s  {len(calls):3} AWS calls  {processes} commands  "
              f"{wall / processes:5.2f} s per command\n    {per_action(calls)}")
    print(f"  AWS CLI / bedrock-provisioner wall time: {results[0][0] / results[1][0]:.1f}x")


def main():
    parser = argparse.ArgumentParser(description="fleet benchmark against the local AWS emulator")
    parser.add_argument("binary", type=Path)
    parser.add_argument("--sizes", default="10,100,500", help="fleet sizes, comma-separated")
    parser.add_argument("--awscli", type=Path, help="the AWS CLI (v1) for the seed's manual path")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    binary = args.binary.resolve()
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as workdir:
        home = Path(workdir)
        (home / "keys").mkdir(mode=0o700)
        emulator = Emulator(home)
        try:
            sizes = [int(s) for s in args.sizes.split(",")]
            for size in sizes:
                bench_fleet(emulator, binary, size, home)
            bench_enforce(emulator, binary, sizes[-1], home)
            if args.awscli:
                bench_manual(emulator, binary, args.awscli.resolve(), home)
        finally:
            emulator.stop()


if __name__ == "__main__":
    main()
