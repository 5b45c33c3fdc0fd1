"""Contract tests of CloudWatch Logs Insights in the emulator: ``StartQuery`` and ``GetQueryResults`` (botocore
``logs`` 2014-03-28) over model invocation records, and ``PutRetentionPolicy``'s documented values.

Sources: the API reference (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_StartQuery.html:
``startTime``/``endTime`` epoch seconds, inclusive; exactly one of ``logGroupName``, ``logGroupNames``,
``logGroupIdentifiers``; https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_GetQueryResults.html:
``status``, ``results`` as rows of ``{field, value}``, ``statistics``), the query syntax pages
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax.html; ``limit`` "If you omit limit, the
query defaults to returning up to 10,000 log events"; ``sort``'s natural order), and ``PutRetentionPolicy``
(https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html: "Possible
values are: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288,
and 3653").
"""

import json
import time

import boto3
import botocore.exceptions
import pytest

from test_invocation_logging import GROUP, PROFILE, enable_logging
from test_runtime import HELLO, least_privilege

# The query the server's query_usage runs (src/core/spend/usage.rs).
USAGE_QUERY = ("stats count(*) as invocations, sum(input.inputTokenCount) as input_tokens, "
               "sum(output.outputTokenCount) as output_tokens, sum(input.cacheReadInputTokenCount) as cache_read, "
               "sum(input.cacheWriteInputTokenCount) as cache_write by identity.arn, modelId | limit 10000")


def run(logs, query: str, start: int | None = None, end: int | None = None, **params) -> dict:
    now = int(time.time())
    started = logs.start_query(startTime=now - 3600 if start is None else start,
                               endTime=now + 60 if end is None else end, queryString=query,
                               **({"logGroupName": GROUP} | params))
    return logs.get_query_results(queryId=started["queryId"])


def rows(answer: dict) -> list[dict]:
    assert answer["status"] == "Complete"
    return [{cell["field"]: cell["value"] for cell in row} for row in answer["results"]]


def put(logs, *messages: dict, stream: str = "app", at: int | None = None) -> None:
    logs.create_log_stream(logGroupName=GROUP, logStreamName=stream)
    base = int(time.time() * 1000) if at is None else at
    logs.put_log_events(logGroupName=GROUP, logStreamName=stream, logEvents=[
        {"timestamp": base + index, "message": json.dumps(message)} for index, message in enumerate(messages)])


def refused(call, **kwargs) -> dict:
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        call(**kwargs)
    return raised.value.response


def test_usage_per_caller_and_model_from_invocation_records(emulator, account):
    """The server's own query over records the emulated runtime wrote: one row per caller and model, the group
    fields first, every number a string."""
    enable_logging(emulator, account)
    iam = emulator.client("iam", account)
    for name in ("marketing", "sales"):
        iam.create_user(UserName=name)
        iam.put_user_policy(UserName=name, PolicyName="bedrock", PolicyDocument=least_privilege(account))
    keys = {name: iam.create_access_key(UserName=name)["AccessKey"] for name in ("marketing", "sales")}
    expected: dict[tuple[str, str], list[int]] = {}
    for name, model, times in (("marketing", PROFILE, 2), ("marketing", "global." + PROFILE[3:], 1),
                               ("sales", PROFILE, 3)):
        caller = boto3.client("bedrock-runtime", endpoint_url=emulator.endpoint, region_name="us-east-1",
                              aws_access_key_id=keys[name]["AccessKeyId"],
                              aws_secret_access_key=keys[name]["SecretAccessKey"])
        for _ in range(times):
            usage = caller.converse(modelId=model, messages=HELLO)["usage"]
            key = (f"arn:aws:iam::{account}:user/{name}",
                   f"arn:aws:bedrock:us-east-1:{account}:inference-profile/{model}")
            total = expected.setdefault(key, [0, 0, 0])
            for index, count in enumerate((1, usage["inputTokens"], usage["outputTokens"])):
                total[index] += count
    answer = run(emulator.client("logs", account), USAGE_QUERY)
    assert [cell["field"] for cell in answer["results"][0]] == [
        "identity.arn", "modelId", "invocations", "input_tokens", "output_tokens", "cache_read", "cache_write"]
    got = {(r["identity.arn"], r["modelId"]): [int(r["invocations"]), int(r["input_tokens"]),
                                               int(r["output_tokens"])] for r in rows(answer)}
    assert got == expected
    assert all(r["cache_read"] == "0" and r["cache_write"] == "0" for r in rows(answer))
    assert answer["statistics"]["recordsMatched"] == 6.0 and answer["statistics"]["recordsScanned"] == 6.0


def test_filter_fields_sort_and_limit(emulator, account):
    """``filter`` with ``=``, ``!=``, numeric comparisons, ``like`` (substring and /regex/), ``in``, ``and``/
    ``or``/``not``; ``fields`` with aliases, ``sort`` asc/desc (numbers by value), ``limit``, ``#`` comments."""
    logs = emulator.client("logs", account)
    logs.create_log_group(logGroupName=GROUP)
    put(logs, {"identity": {"arn": "arn:aws:iam::1:user/a"}, "modelId": "m1", "input": {"inputTokenCount": 9}},
        {"identity": {"arn": "arn:aws:iam::1:user/b"}, "modelId": "m2", "input": {"inputTokenCount": 10}},
        {"identity": {"arn": "arn:aws:iam::1:user/a"}, "modelId": "m2", "input": {"inputTokenCount": 100}})
    by_user = rows(run(logs, 'filter identity.arn = "arn:aws:iam::1:user/a" | fields modelId, '
                             'input.inputTokenCount as tokens | sort tokens asc'))
    assert [(r["modelId"], r["tokens"]) for r in by_user] == [("m1", "9"), ("m2", "100")]
    assert all(r["@ptr"] for r in by_user), "event rows end with @ptr"
    numeric = rows(run(logs, "filter input.inputTokenCount >= 10 and modelId != 'm1' # big ones\n"
                             "| fields input.inputTokenCount | sort input.inputTokenCount desc"))
    assert [r["input.inputTokenCount"] for r in numeric] == ["100", "10"], "100 > 10 as numbers"
    assert len(rows(run(logs, "filter identity.arn like /USER\\/B/i or modelId in ['m1'] | limit 1"))) == 1
    assert len(rows(run(logs, 'filter identity.arn like "user/a" and not (modelId = "m2")'))) == 1
    newest = rows(run(logs, "fields modelId | limit 1"))
    assert newest[0]["modelId"] == "m2" and "@timestamp" not in newest[0], "newest first; only fields shown"
    plain = rows(run(logs, "filter ispresent(modelId) | limit 2"))
    assert set(plain[0]) == {"@timestamp", "@message", "@ptr"}, "without fields: @timestamp and @message"
    assert rows(run(logs, "stats count(*) as n, avg(input.inputTokenCount) as mean, max(input.inputTokenCount) "
                          "by modelId | sort n desc")) == [
        {"modelId": "m2", "n": "2", "mean": "55", "max(input.inputTokenCount)": "100"},
        {"modelId": "m1", "n": "1", "mean": "9", "max(input.inputTokenCount)": "9"}]


def test_time_range_and_retention(emulator, account):
    """Only events from ``startTime`` to ``endTime`` (seconds, both included) count; an event older than the
    group's retention on the account's clock is gone, so a range beyond retention answers no rows."""
    logs = emulator.client("logs", account)
    logs.create_log_group(logGroupName=GROUP)
    at = (int(time.time()) - 600) * 1000
    put(logs, {"modelId": "m1"}, at=at)
    second = at // 1000
    assert len(rows(run(logs, "stats count(*)", second, second))) == 1, "the end second is included"
    assert rows(run(logs, "stats count(*)", second + 1, second + 100)) == []
    logs.put_retention_policy(logGroupName=GROUP, retentionInDays=1)
    assert len(rows(run(logs, "fields modelId", second - 10, second + 10))) == 1, "within retention"
    emulator.control("POST", "clock", {"account": account, "advance_days": 2})
    try:
        assert rows(run(logs, "fields modelId", second - 10, second + 10)) == [], "past retention"
    finally:
        emulator.control("POST", "clock", {"account": account, "offset_seconds": 0})


def test_query_errors(emulator, account):
    """ResourceNotFoundException for a missing group or query id; InvalidParameterException without exactly one
    group member; MalformedQueryException with ``queryCompileError`` for syntax outside the subset."""
    logs = emulator.client("logs", account, retry=False)
    logs.create_log_group(logGroupName=GROUP)
    now = int(time.time())
    missing = refused(logs.start_query, logGroupName="missing", startTime=now - 60, endTime=now,
                      queryString="fields @message")
    assert missing["Error"] == {"Code": "ResourceNotFoundException",
                                "Message": "The specified log group does not exist."}
    both = refused(logs.start_query, logGroupName=GROUP, logGroupNames=[GROUP], startTime=now - 60, endTime=now,
                   queryString="fields @message")
    assert both["Error"]["Code"] == "InvalidParameterException"
    for query in ("parse @message 'x*' as y", "stats count(*) by bin(5m)", "filter modelId =",
                  "fields strlen(modelId)", "limit 0", "limit 100001"):
        malformed = refused(logs.start_query, logGroupName=GROUP, startTime=now - 60, endTime=now, queryString=query)
        assert malformed["Error"]["Code"] == "MalformedQueryException", query
        assert "location" in malformed["queryCompileError"], query
    assert refused(logs.get_query_results, queryId="not-a-query")["Error"]["Code"] == "ResourceNotFoundException"
    arn = f"arn:aws:logs:us-east-1:{account}:log-group:{GROUP}"
    started = logs.start_query(logGroupIdentifiers=[arn], startTime=now - 60, endTime=now,
                               queryString="fields @message")
    assert logs.get_query_results(queryId=started["queryId"])["status"] == "Complete"


def test_a_query_runs_before_it_completes_and_pages(emulator, account):
    """With ``logs/query-polls`` the first polls answer Scheduled, then Running, without rows; ``maxItems`` and
    ``nextToken`` page the rows."""
    logs = emulator.client("logs", account)
    logs.create_log_group(logGroupName=GROUP)
    put(logs, *[{"n": n} for n in range(5)])
    assert emulator.control("POST", "logs/query-polls", {"account": account, "polls": 2}) == {"polls": 2}
    try:
        now = int(time.time())
        query_id = logs.start_query(logGroupName=GROUP, startTime=now - 60, endTime=now + 60,
                                    queryString="fields n | sort n asc")["queryId"]
    finally:
        emulator.control("POST", "logs/query-polls", {"account": account, "polls": 0})
    polls = [logs.get_query_results(queryId=query_id) for _ in range(2)]
    assert [(p["status"], p["results"]) for p in polls] == [("Scheduled", []), ("Running", [])]
    first = logs.get_query_results(queryId=query_id, maxItems=2)
    assert first["status"] == "Complete" and len(first["results"]) == 2
    rest = logs.get_query_results(queryId=query_id, nextToken=first["nextToken"])
    assert [row[0]["value"] for row in first["results"] + rest["results"]] == ["0", "1", "2", "3", "4"]
    assert "nextToken" not in rest


def test_retention_takes_only_the_documented_values(emulator, account):
    """PutRetentionPolicy: 400 is a documented value, 2 is not (InvalidParameterException)."""
    logs = emulator.client("logs", account, retry=False)
    logs.create_log_group(logGroupName=GROUP)
    error = refused(logs.put_retention_policy, logGroupName=GROUP, retentionInDays=2)["Error"]
    assert error["Code"] == "InvalidParameterException"
    assert error["Message"].startswith("1 validation error detected: Value '2' at 'retentionInDays' failed to "
                                       "satisfy constraint: Member must satisfy enum value set: [1, 3, 5, 7,")
    logs.put_retention_policy(logGroupName=GROUP, retentionInDays=400)
    assert logs.describe_log_groups(logGroupNamePrefix=GROUP)["logGroups"][0]["retentionInDays"] == 400
