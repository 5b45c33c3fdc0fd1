"""Start-up benchmark: time from spawning an MCP server to its `initialize` and `tools/list` replies, its
peak RSS, and the size of its tool list (what every agent session pays in context), over several runs.
Prints figures; asserts nothing (targets: at most 6 ms to tools/list, 12 MiB peak RSS, 16,000 bytes of names,
descriptions and input schemas).

With `--baseline PATH`, the same figures for another build of this server (`make bench` passes the release
build without the lean profile: no LTO, 16 codegen units, opt-level 3, symbols kept), with binary sizes and
the ratios baseline / lean.

With `--peer COMMAND`, the same figures for a peer MCP server started by COMMAND (`make bench` uses AWS's
own IAM MCP server, `awslabs.iam-mcp-server` from PyPI, the closest peer that also hands an agent IAM
write access), and the ratios peer / this server.

Usage: python benches/startup.py PATH_TO_BINARY [RUNS] [--baseline PATH] [--peer COMMAND]
"""

import json
import os
import shlex
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


def one_run(command):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    # Neither server calls AWS before tools/list; dummy credentials keep SDKs from probing for them.
    env.update({"RUST_LOG": "warn", "FASTMCP_LOG_LEVEL": "ERROR", "AWS_REGION": "us-east-1",
                "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"})
    started = time.perf_counter()
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, env=env)
    send(process, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}})
    reply = json.loads(process.stdout.readline())
    assert reply.get("id") == 1 and "result" in reply, reply
    initialized = time.perf_counter()
    send(process, {"jsonrpc": "2.0", "method": "notifications/initialized"})
    send(process, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
    line = process.stdout.readline()
    reply = json.loads(line)
    assert reply.get("id") == 2 and reply["result"]["tools"], reply
    listed = time.perf_counter()
    rss = peak_rss_kib(process.pid)
    process.stdin.close()
    process.wait(timeout=10)
    return {"init": (initialized - started) * 1000, "listed": (listed - started) * 1000, "rss": rss / 1024,
            "tools": len(reply["result"]["tools"]), "list_bytes": len(line),
            "prompt_bytes": sum(len(json.dumps({k: t.get(k) for k in ("name", "description", "inputSchema")},
                                                  separators=(",", ":")))
                                for t in reply["result"]["tools"])}


def measure(name, command, runs):
    one_run(command)  # warm the page cache
    results = [one_run(command) for _ in range(runs)]
    median = {key: statistics.median(r[key] for r in results) for key in ("init", "listed", "rss")}
    worst = {key: max(r[key] for r in results) for key in ("init", "listed", "rss")}
    tools, size, prompt = results[0]["tools"], results[0]["list_bytes"], results[0]["prompt_bytes"]
    print(f"{name}: start-up over {runs} runs ({tools} tools listed)")
    print(f"  spawn -> initialize reply : median {median['init']:8.2f} ms   max {worst['init']:8.2f} ms")
    print(f"  spawn -> tools/list reply : median {median['listed']:8.2f} ms   max {worst['listed']:8.2f} ms")
    print(f"  peak RSS                  : median {median['rss']:8.2f} MiB  max {worst['rss']:8.2f} MiB")
    print(f"  tools/list size           : {size} bytes ({size / tools:.0f} per tool)")
    print(f"  name+description+input    : {prompt} bytes ({prompt / tools:.0f} per tool; what a model is shown)")
    return median, size, prompt


def option(args, name):
    """(value of --name, the other arguments)."""
    if name not in args:
        return None, args
    at = args.index(name)
    return args[at + 1], args[:at] + args[at + 2:]


def compare_builds(binary, baseline, runs, lean):
    """The baseline build's figures and the ratios baseline / lean."""
    base, _, _ = measure("baseline build (no LTO, 16 codegen units, opt-level 3, symbols)",
                         [baseline, "serve", "--mode", "admin"], runs)
    mib = lambda path: os.path.getsize(path) / 2**20
    print("release profile, baseline -> lean:")
    print(f"  binary size        : {mib(baseline):6.1f} MiB -> {mib(binary):6.1f} MiB "
          f"({mib(baseline) / mib(binary):.1f}x smaller)")
    print(f"  time to tools/list : {base['listed']:6.2f} ms -> {lean['listed']:6.2f} ms")
    print(f"  peak RSS           : {base['rss']:6.2f} MiB -> {lean['rss']:6.2f} MiB")


def main():
    peer, args = option(sys.argv[1:], "--peer")
    peer = shlex.split(peer) if peer else None
    baseline, args = option(args, "--baseline")
    binary = args[0]
    runs = int(args[1]) if len(args) > 1 else 25
    ours, our_size, our_prompt = measure("bedrock-provisioner (mode admin)", [binary, "serve", "--mode", "admin"], runs)
    print(f"  binary size               : {os.path.getsize(binary) / 2**20:.1f} MiB")
    print("  targets: tools/list <= 6 ms, peak RSS <= 12 MiB, name+description+input <= 16,000 bytes")
    if baseline:
        compare_builds(binary, baseline, runs, ours)
    if peer:
        theirs, their_size, their_prompt = measure(f"peer: {' '.join(peer)}", peer, runs)
        print("peer / bedrock-provisioner:")
        print(f"  time to tools/list : {theirs['listed'] / ours['listed']:6.1f}x")
        print(f"  peak RSS           : {theirs['rss'] / ours['rss']:6.1f}x")
        print(f"  tools/list size    : {their_size / our_size:6.1f}x")
        print(f"  shown to a model   : {their_prompt / our_prompt:6.1f}x")


if __name__ == "__main__":
    main()
