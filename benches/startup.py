"""Start-up benchmark: time from spawning the server to its `initialize` and `tools/list` replies, and its
peak RSS, over several runs. Prints figures; asserts nothing (targets: < 20 ms to tools/list, < 20 MB).

Usage: python benches/startup.py PATH_TO_BINARY [RUNS]
"""

import json
import os
import statistics
import subprocess
import sys
import time

PROTOCOL = "2025-06-18"


def send(process, message):
    process.stdin.write((json.dumps(message) + "\n").encode())
    process.stdin.flush()


def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def one_run(binary):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["RUST_LOG"] = "warn"
    started = time.perf_counter()
    process = subprocess.Popen(
        [binary, "serve", "--mode", "admin"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
    )
    send(process, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}})
    reply = json.loads(process.stdout.readline())
    assert reply.get("id") == 1 and "result" in reply, reply
    initialized = time.perf_counter()
    send(process, {"jsonrpc": "2.0", "method": "notifications/initialized"})
    send(process, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
    reply = json.loads(process.stdout.readline())
    assert reply.get("id") == 2 and reply["result"]["tools"], reply
    listed = time.perf_counter()
    rss = peak_rss_kib(process.pid)
    process.stdin.close()
    process.wait(timeout=10)
    return (initialized - started) * 1000, (listed - started) * 1000, rss / 1024, len(reply["result"]["tools"])


def main():
    binary = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 25
    one_run(binary)  # warm the page cache
    results = [one_run(binary) for _ in range(runs)]
    init = [r[0] for r in results]
    listed = [r[1] for r in results]
    rss = [r[2] for r in results]
    print(f"bedrock-provisioner start-up over {runs} runs ({results[0][3]} tools listed, mode admin)")
    print(f"  spawn -> initialize reply : median {statistics.median(init):6.2f} ms   max {max(init):6.2f} ms")
    print(f"  spawn -> tools/list reply : median {statistics.median(listed):6.2f} ms   max {max(listed):6.2f} ms"
          f"   (target < 20 ms)")
    print(f"  peak RSS                  : median {statistics.median(rss):6.2f} MiB  max {max(rss):6.2f} MiB"
          f"  (target < 20 MiB)")


if __name__ == "__main__":
    main()
