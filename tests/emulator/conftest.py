"""Start one emulator for the contract tests, on a free loopback port."""

import itertools
import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import boto3
from botocore.config import Config
import pytest

HERE = Path(__file__).parent
_accounts = itertools.count(200_000_000_000)


class Emulator:
    def __init__(self, port: int):
        self.endpoint = f"http://127.0.0.1:{port}"

    def control(self, method: str, command: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.endpoint}/_emulator/{command}", data=data, method=method)
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)

    def client(self, service: str, account: str, region: str = "us-east-1", retry: bool = True):
        """A boto3 client for `account`; `retry=False` makes exactly one attempt per call."""
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=region,
            aws_access_key_id=account,
            aws_secret_access_key="contract-test",
            config=Config(retries={"total_max_attempts": 5 if retry else 1, "mode": "standard"}),
        )


@pytest.fixture(scope="session")
def emulator():
    process = subprocess.Popen(
        [sys.executable, "-m", "bpemu", "--port", "0", "--watch-stdin"],
        cwd=HERE,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    line = process.stdout.readline()
    assert line.startswith("READY "), line
    yield Emulator(int(line.split()[1]))
    process.stdin.close()
    process.wait(timeout=10)


@pytest.fixture
def account():
    """A fresh 12-digit access key id: its own emulator account."""
    return f"{next(_accounts):012d}"


@pytest.fixture
def other_account():
    """A second fresh 12-digit access key id, for tests that span two accounts."""
    return f"{next(_accounts):012d}"
