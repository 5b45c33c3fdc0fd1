"""Every extension action answers what botocore's model says it answers, and every request to one is held to
the model's input shape, as AWS's front end holds it.

Follows the pinned botocore service models (``botocore/data/<service>/<version>/service-2.json`` of botocore
1.44.8: bedrock 2023-04-20, iam 2010-05-08, ce 2017-10-25, budgets 2016-10-20, service-quotas 2019-06-24, logs
2014-03-28) and
AWS's validation errors as documented in "Common Errors"
(https://docs.aws.amazon.com/bedrock/latest/APIReference/CommonErrors.html: ``ValidationException``, HTTP 400,
"The input fails to satisfy the constraints specified by an AWS service"; IAM's query API answers
``ValidationError``, https://docs.aws.amazon.com/IAM/latest/APIReference/CommonErrors.html).

Responses are checked raw (the HTTP body boto3 received), since boto3's parser drops unknown members silently.
"""

import json
from dataclasses import dataclass

import botocore.exceptions
import pytest
from botocore.config import Config

from bpemu import shapes

SONNET = "anthropic.claude-sonnet-4-5-20250929-v1:0"
BEDROCK_KEYS = "bedrock.amazonaws.com"


@dataclass
class Record:
    service: str
    operation: str
    params: dict
    status: int
    body: bytes


class Calls:
    """boto3 clients of one account whose every call is recorded raw: parameters, HTTP status and body."""

    def __init__(self, emulator, account: str):
        self.emulator, self.account = emulator, account
        self.records: list[Record] = []

    def client(self, service: str, region: str = "us-east-1", **config):
        """A client making one attempt per call; `config`: more botocore ``Config`` settings."""
        client = (_reconfigured(self.emulator, service, self.account, region, config) if config
                  else self.emulator.client(service, self.account, region, retry=False))
        name = client.meta.service_model.service_name
        pending: dict[str, dict] = {}

        def before(params, model, **_):
            pending[model.name] = dict(params)

        def after(http_response, model, **_):
            self.records.append(Record(name, model.name, pending.pop(model.name, {}), http_response.status_code,
                                       http_response.content))

        client.meta.events.register("before-parameter-build", before)
        client.meta.events.register("after-call", after)
        return client


def _reconfigured(emulator, service, account, region, config):
    import boto3

    return boto3.client(service, endpoint_url=emulator.endpoint, region_name=region, aws_access_key_id=account,
                        aws_secret_access_key="contract-test",
                        config=Config(retries={"total_max_attempts": 1}, **config))


# -- one case per extension action: calls that make its responses as rich as the emulator makes them ----------


def _bedrock_catalog(calls):
    for region in ("us-east-1", "eu-central-1", "ap-northeast-1"):
        bedrock = calls.client("bedrock", region)
        bedrock.list_foundation_models()
        bedrock.list_foundation_models(byProvider="Anthropic")


def _bedrock_model(calls):
    calls.client("bedrock").get_foundation_model(modelIdentifier=SONNET)
    calls.client("bedrock", "ap-southeast-2").get_foundation_model(
        modelIdentifier=f"arn:aws:bedrock:ap-southeast-2::foundation-model/{SONNET}")


def _bedrock_profiles(calls):
    for region in ("us-east-1", "eu-west-1", "ap-northeast-1", "ap-southeast-2", "ap-southeast-1"):
        paginator = calls.client("bedrock", region).get_paginator("list_inference_profiles")
        for _ in paginator.paginate(typeEquals="SYSTEM_DEFINED", PaginationConfig={"PageSize": 2}):
            pass
    calls.client("bedrock").list_inference_profiles(maxResults=1000)


def _bedrock_profile(calls):
    bedrock = calls.client("bedrock", "ap-northeast-1")
    for prefix in ("jp", "apac", "global"):
        bedrock.get_inference_profile(inferenceProfileIdentifier=f"{prefix}.{SONNET}")


def _bedrock_availability(calls):
    calls.emulator.control("POST", "bedrock/availability",
                           {"account": calls.account, "model": SONNET, "agreement": "PENDING"})
    calls.client("bedrock").get_foundation_model_availability(modelId=SONNET)
    calls.client("bedrock", "ap-southeast-1").get_foundation_model_availability(modelId=SONNET)


def _bedrock_use_case(calls):
    calls.client("bedrock").get_use_case_for_model_access()


def _iam_user(calls, name="bu-user"):
    iam = calls.client("iam")
    iam.create_user(UserName=name)
    return iam


def _iam_create(calls):
    iam = _iam_user(calls)
    iam.create_service_specific_credential(UserName="bu-user", ServiceName=BEDROCK_KEYS, CredentialAgeDays=30)
    iam.create_service_specific_credential(UserName="bu-user", ServiceName=BEDROCK_KEYS)
    iam.create_service_specific_credential(UserName="bu-user", ServiceName="codecommit.amazonaws.com")


def _iam_list(calls):
    iam = _iam_user(calls)
    _iam_user(calls, "other-user")
    for user in ("bu-user", "other-user"):
        iam.create_service_specific_credential(UserName=user, ServiceName=BEDROCK_KEYS, CredentialAgeDays=1)
    iam.create_service_specific_credential(UserName="bu-user", ServiceName="codecommit.amazonaws.com")
    calls.emulator.control("POST", "clock", {"advance_days": 2, "account": calls.account})
    iam.list_service_specific_credentials(UserName="bu-user")
    first = iam.list_service_specific_credentials(AllUsers=True, MaxItems=1)
    iam.list_service_specific_credentials(AllUsers=True, MaxItems=1, Marker=first["Marker"])
    iam.list_service_specific_credentials(AllUsers=True, ServiceName=BEDROCK_KEYS)


def _iam_update(calls):
    iam = _iam_user(calls)
    created = iam.create_service_specific_credential(UserName="bu-user", ServiceName=BEDROCK_KEYS)
    iam.update_service_specific_credential(
        UserName="bu-user", ServiceSpecificCredentialId=created["ServiceSpecificCredential"][
            "ServiceSpecificCredentialId"], Status="Inactive")


def _iam_reset(calls):
    iam = _iam_user(calls)
    for service in (BEDROCK_KEYS, "codecommit.amazonaws.com"):
        created = iam.create_service_specific_credential(UserName="bu-user", ServiceName=service)
        iam.reset_service_specific_credential(
            UserName="bu-user",
            ServiceSpecificCredentialId=created["ServiceSpecificCredential"]["ServiceSpecificCredentialId"])


def _iam_delete(calls):
    iam = _iam_user(calls)
    created = iam.create_service_specific_credential(UserName="bu-user", ServiceName=BEDROCK_KEYS)
    iam.delete_service_specific_credential(
        UserName="bu-user",
        ServiceSpecificCredentialId=created["ServiceSpecificCredential"]["ServiceSpecificCredentialId"])


def _iam_simulate(calls):
    iam = _iam_user(calls)
    iam.put_user_policy(UserName="bu-user", PolicyName="p", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "bedrock:List*", "Resource": "*"}]}))
    arn = f"arn:aws:iam::{calls.account}:user/bu-user"
    iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=["bedrock:ListFoundationModels", "iam:GetUser"])
    iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=["iam:GetUser", "bedrock:ListInferenceProfiles"],
                                  ResourceArns=[arn, f"arn:aws:iam::{calls.account}:user/other"])
    iam.simulate_principal_policy(PolicySourceArn=f"arn:aws:iam::{calls.account}:root", ActionNames=["iam:GetUser"])


def _iam_authorization_details(calls):
    iam = calls.client("iam")
    for i in range(3):
        iam.create_user(UserName=f"bu-user-{i}", Tags=[{"Key": "business-unit", "Value": f"bu-{i}"}])
    iam.create_group(GroupName="bu")
    iam.add_user_to_group(GroupName="bu", UserName="bu-user-0")
    statement = {"Effect": "Allow", "Action": "bedrock:InvokeModel", "Resource": "*"}
    iam.put_user_policy(UserName="bu-user-0", PolicyName="p", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [statement]}))
    iam.attach_user_policy(UserName="bu-user-1", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    iam.create_role(RoleName="r", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
    iam.create_policy(PolicyName="local", PolicyDocument=json.dumps({"Version": "2012-10-17",
                                                                      "Statement": [statement]}))
    first = iam.get_account_authorization_details(Filter=["User"], MaxItems=2)
    iam.get_account_authorization_details(Filter=["User"], MaxItems=2, Marker=first["Marker"])
    iam.get_account_authorization_details(Filter=["User", "Group", "Role", "LocalManagedPolicy"], MaxItems=4)
    iam.get_account_authorization_details(MaxItems=10)


def _iam_list_users(calls):
    iam = calls.client("iam")
    for i in range(3):
        iam.create_user(UserName=f"lu-{i}", Path="/bu/", Tags=[{"Key": "business-unit", "Value": f"bu-{i}"}])
    iam.create_user(UserName="other")
    first = iam.list_users(MaxItems=2)
    iam.list_users(MaxItems=2, Marker=first["Marker"])
    iam.list_users(PathPrefix="/bu/")


def _ce_tags(calls):
    calls.emulator.control("POST", "ce/tags", {"account": calls.account, "tags": [
        {"key": "business-unit", "status": "Active"}, {"key": "aws:createdBy", "type": "AWSGenerated"}]})
    ce = calls.client("ce")
    ce.update_cost_allocation_tags_status(CostAllocationTagsStatus=[{"TagKey": "business-unit", "Status": "Active"}])
    ce.list_cost_allocation_tags()
    ce.list_cost_allocation_tags(Status="Active", Type="UserDefined")
    return ce


def _ce_update_tags(calls):
    ce = _ce_tags(calls)
    ce.update_cost_allocation_tags_status(CostAllocationTagsStatus=[
        {"TagKey": "business-unit", "Status": "Inactive"}, {"TagKey": "unknown", "Status": "Active"}])


def _ce_line_items(calls):
    items = [
        {"date": "2026-10-01", "service": "Amazon Bedrock", "usage_type": "USE1-input",
         "tags": {"business-unit": "a"}, "cost": 2.0},
        {"date": "2026-10-02", "service": "Claude Sonnet 4.5 (Amazon Bedrock Edition)", "usage_type": "USE1-MP",
         "tags": {}, "cost": 4.0},
        {"date": "2026-11-01", "service": "Amazon Bedrock", "usage_type": "USE1-output",
         "tags": {"business-unit": "b"}, "cost": 5.0},
    ]
    calls.emulator.control("POST", "ce/line-items", {"account": calls.account, "items": items, "page_size": 2})
    return calls.client("ce")


def _ce_cost_and_usage(calls):
    ce = _ce_line_items(calls)
    period = {"Start": "2026-10-01", "End": "2026-12-01"}
    ce.get_cost_and_usage(TimePeriod=period, Granularity="MONTHLY", Metrics=["UnblendedCost"])
    grouped = ce.get_cost_and_usage(
        TimePeriod=period, Granularity="MONTHLY", Metrics=["UnblendedCost", "AmortizedCost"],
        GroupBy=[{"Type": "TAG", "Key": "business-unit"}, {"Type": "DIMENSION", "Key": "SERVICE"}])
    ce.get_cost_and_usage(TimePeriod=period, Granularity="MONTHLY", Metrics=["UnblendedCost"],
                          GroupBy=[{"Type": "TAG", "Key": "business-unit"}], NextPageToken=grouped["NextPageToken"])
    ce.get_cost_and_usage(TimePeriod={"Start": "2026-10-01", "End": "2026-10-03"}, Granularity="DAILY",
                          Metrics=["UsageQuantity"],
                          Filter={"Dimensions": {"Key": "SERVICE", "Values": ["Amazon Bedrock"]}})


def _ce_dimension_values(calls):
    _ce_line_items(calls).get_dimension_values(
        TimePeriod={"Start": "2026-10-01", "End": "2026-12-01"}, Dimension="SERVICE", SearchString="Bedrock")


BUDGET = {"BudgetName": "bedrock-marketing-monthly", "BudgetLimit": {"Amount": "100", "Unit": "USD"},
          "TimeUnit": "MONTHLY", "BudgetType": "COST",
          "FilterExpression": {"And": [
              {"Dimensions": {"Key": "SERVICE", "Values": ["Amazon Bedrock"]}},
              {"Tags": {"Key": "business-unit", "Values": ["marketing"]}}]},
          "Metrics": ["UnblendedCost"]}
NOTIFICATION = {"NotificationType": "ACTUAL", "ComparisonOperator": "GREATER_THAN", "Threshold": 80.0,
                "ThresholdType": "PERCENTAGE"}


def _budget(calls):
    budgets = calls.client("budgets")
    budgets.create_budget(AccountId=calls.account, Budget=BUDGET, NotificationsWithSubscribers=[
        {"Notification": NOTIFICATION, "Subscribers": [{"SubscriptionType": "EMAIL", "Address": "a@example.com"}]}])
    return budgets


def _budgets_describe(calls):
    budgets = _budget(calls)
    budgets.describe_budget(AccountId=calls.account, BudgetName=BUDGET["BudgetName"])
    budgets.describe_budget(AccountId=calls.account, BudgetName=BUDGET["BudgetName"], ShowFilterExpression=True)


def _budgets_describe_all(calls):
    budgets = _budget(calls)
    budgets.create_budget(AccountId=calls.account, Budget={**BUDGET, "BudgetName": "second"})
    first = budgets.describe_budgets(AccountId=calls.account, MaxResults=1, ShowFilterExpression=True)
    budgets.describe_budgets(AccountId=calls.account, MaxResults=1, NextToken=first["NextToken"])


def _budgets_update(calls):
    _budget(calls).update_budget(AccountId=calls.account,
                                 NewBudget={**BUDGET, "BudgetLimit": {"Amount": "200", "Unit": "USD"}})


def _budgets_subscribers(calls):
    _budget(calls).describe_subscribers_for_notification(
        AccountId=calls.account, BudgetName=BUDGET["BudgetName"], Notification=NOTIFICATION)


def _logging_destination(calls) -> str:
    """A log group and a role Bedrock may write to it with (the user guide's CloudWatch Logs destination)."""
    calls.client("logs").create_log_group(logGroupName="invocations")
    iam = calls.client("iam")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"Service": "bedrock.amazonaws.com"}}]}
    arn = iam.create_role(RoleName="logging", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName="logging", PolicyName="write", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*",
                                                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"]}]}))
    return arn


def _bedrock_logging_put(calls):
    calls.client("bedrock").put_model_invocation_logging_configuration(loggingConfig={
        "cloudWatchConfig": {"logGroupName": "invocations", "roleArn": _logging_destination(calls)},
        "textDataDeliveryEnabled": True, "s3Config": {"bucketName": "invocation-logs", "keyPrefix": "bedrock"}})


def _bedrock_logging_get(calls):
    bedrock = calls.client("bedrock")
    bedrock.get_model_invocation_logging_configuration()
    _bedrock_logging_put(calls)
    bedrock.get_model_invocation_logging_configuration()


def _logs_query(calls, query: str = "stats count(*) as n, sum(input.inputTokenCount) by identity.arn, modelId"):
    _bedrock_logging_put(calls)
    calls.client("bedrock-runtime").converse(modelId=f"us.{SONNET}", messages=[
        {"role": "user", "content": [{"text": "Hello"}]}])
    logs = calls.client("logs")
    return logs, logs.start_query(logGroupName="invocations", startTime=0, endTime=4102444800, queryString=query)


def _logs_start_query(calls):
    _logs_query(calls)


def _logs_query_results(calls):
    logs, started = _logs_query(calls, "fields @timestamp, modelId, input.inputTokenCount | sort @timestamp desc")
    first = logs.get_query_results(queryId=started["queryId"], maxItems=1)
    logs.get_query_results(queryId=started["queryId"])
    calls.emulator.control("POST", "logs/query-polls", {"account": calls.account, "polls": 1})
    try:
        running = logs.start_query(logGroupName="invocations", startTime=0, endTime=4102444800,
                                   queryString="stats count(*)")
    finally:
        calls.emulator.control("POST", "logs/query-polls", {"account": calls.account, "polls": 0})
    logs.get_query_results(queryId=running["queryId"])
    assert first["results"]


def _budget_action(calls, approval: str = "AUTOMATIC") -> tuple:
    budgets = _budget(calls)
    iam = calls.client("iam")
    iam.create_user(UserName="marketing")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"Service": "budgets.amazonaws.com"}}]}
    role = iam.create_role(RoleName="budgets", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName="budgets", PolicyName="apply", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*",
                                                "Action": ["iam:AttachUserPolicy", "iam:DetachUserPolicy"]}]}))
    action_id = budgets.create_budget_action(
        AccountId=calls.account, BudgetName=BUDGET["BudgetName"], NotificationType="ACTUAL",
        ActionType="APPLY_IAM_POLICY",
        ActionThreshold={"ActionThresholdValue": 100, "ActionThresholdType": "PERCENTAGE"},
        Definition={"IamActionDefinition": {"PolicyArn": "arn:aws:iam::aws:policy/AWSDenyAll", "Users": ["marketing"]}},
        ExecutionRoleArn=role, ApprovalModel=approval,
        Subscribers=[{"SubscriptionType": "EMAIL", "Address": "a@example.com"}])["ActionId"]
    return budgets, {"AccountId": calls.account, "BudgetName": BUDGET["BudgetName"], "ActionId": action_id}


def _budget_action_create(calls):
    _budget_action(calls)


def _budget_action_describe(calls):
    budgets, names = _budget_action(calls)
    budgets.describe_budget_action(**names)


def _budget_actions_for_budget(calls):
    budgets, names = _budget_action(calls)
    budgets.describe_budget_actions_for_budget(AccountId=calls.account, BudgetName=names["BudgetName"])


def _budget_actions_for_account(calls):
    budgets, _ = _budget_action(calls)
    budgets.describe_budget_actions_for_account(AccountId=calls.account, MaxResults=1)


def _budget_action_update(calls):
    budgets, names = _budget_action(calls)
    budgets.update_budget_action(**names, ApprovalModel="MANUAL",
                                 ActionThreshold={"ActionThresholdValue": 50, "ActionThresholdType": "ABSOLUTE_VALUE"})


def _budget_action_delete(calls):
    budgets, names = _budget_action(calls)
    budgets.delete_budget_action(**names)


def _budget_action_execute(calls):
    budgets, names = _budget_action(calls, "MANUAL")
    calls.emulator.control("POST", "budgets/spend", {"account": calls.account, "budget": names["BudgetName"],
                                                      "amount": 150})
    calls.emulator.control("POST", "budgets/evaluate", {"account": calls.account})
    for kind in ("APPROVE_BUDGET_ACTION", "REVERSE_BUDGET_ACTION", "RESET_BUDGET_ACTION"):
        budgets.execute_budget_action(**names, ExecutionType=kind)


def _budget_action_histories(calls):
    _budget_action_execute(calls)
    budgets = calls.client("budgets")
    action_id = budgets.describe_budget_actions_for_account(AccountId=calls.account)["Actions"][0]["ActionId"]
    names = {"AccountId": calls.account, "BudgetName": BUDGET["BudgetName"], "ActionId": action_id}
    first = budgets.describe_budget_action_histories(**names, MaxResults=2)
    budgets.describe_budget_action_histories(**names, NextToken=first["NextToken"])


def _budget_delete(calls):
    budgets, names = _budget_action(calls)
    budgets.delete_budget(AccountId=calls.account, BudgetName=names["BudgetName"])


def _quotas(calls):
    quotas = calls.client("service-quotas")
    first = quotas.list_service_quotas(ServiceCode="bedrock", MaxResults=2)
    quotas.list_service_quotas(ServiceCode="bedrock", NextToken=first["NextToken"])
    quotas.list_service_quotas(ServiceCode="ec2")


CASES = {
    ("bedrock", "ListFoundationModels"): _bedrock_catalog,
    ("bedrock", "GetFoundationModel"): _bedrock_model,
    ("bedrock", "ListInferenceProfiles"): _bedrock_profiles,
    ("bedrock", "GetInferenceProfile"): _bedrock_profile,
    ("bedrock", "GetFoundationModelAvailability"): _bedrock_availability,
    ("bedrock", "GetUseCaseForModelAccess"): _bedrock_use_case,
    ("iam", "CreateServiceSpecificCredential"): _iam_create,
    ("iam", "ListServiceSpecificCredentials"): _iam_list,
    ("iam", "UpdateServiceSpecificCredential"): _iam_update,
    ("iam", "ResetServiceSpecificCredential"): _iam_reset,
    ("iam", "DeleteServiceSpecificCredential"): _iam_delete,
    ("iam", "SimulatePrincipalPolicy"): _iam_simulate,
    ("iam", "GetAccountAuthorizationDetails"): _iam_authorization_details,
    ("iam", "ListUsers"): _iam_list_users,
    ("ce", "ListCostAllocationTags"): _ce_tags,
    ("ce", "UpdateCostAllocationTagsStatus"): _ce_update_tags,
    ("ce", "GetCostAndUsage"): _ce_cost_and_usage,
    ("ce", "GetDimensionValues"): _ce_dimension_values,
    ("budgets", "DescribeBudget"): _budgets_describe,
    ("budgets", "DescribeBudgets"): _budgets_describe_all,
    ("budgets", "UpdateBudget"): _budgets_update,
    ("budgets", "DescribeSubscribersForNotification"): _budgets_subscribers,
    ("service-quotas", "ListServiceQuotas"): _quotas,
    ("bedrock", "PutModelInvocationLoggingConfiguration"): _bedrock_logging_put,
    ("bedrock", "GetModelInvocationLoggingConfiguration"): _bedrock_logging_get,
    ("logs", "StartQuery"): _logs_start_query,
    ("logs", "GetQueryResults"): _logs_query_results,
    ("budgets", "CreateBudgetAction"): _budget_action_create,
    ("budgets", "DescribeBudgetAction"): _budget_action_describe,
    ("budgets", "DescribeBudgetActionsForBudget"): _budget_actions_for_budget,
    ("budgets", "DescribeBudgetActionsForAccount"): _budget_actions_for_account,
    ("budgets", "UpdateBudgetAction"): _budget_action_update,
    ("budgets", "DeleteBudgetAction"): _budget_action_delete,
    ("budgets", "ExecuteBudgetAction"): _budget_action_execute,
    ("budgets", "DescribeBudgetActionHistories"): _budget_action_histories,
    ("budgets", "DeleteBudget"): _budget_delete,
}


@pytest.fixture(scope="module")
def extension_actions(emulator):
    """(service, operation) of every action the emulator's extension modules registered."""
    return {(a["service"], a["operation"]) for a in emulator.control("GET", "actions")["actions"]}


def test_botocore_is_the_pinned_release():
    assert botocore.__version__ == shapes.PINNED_BOTOCORE, "update PINNED_BOTOCORE and re-check the extension"


def test_every_extension_action_has_a_case(extension_actions):
    assert sorted(extension_actions - set(CASES)) == [], "extension actions without a case in CASES"
    assert sorted(set(CASES) - extension_actions) == [], "cases of actions no extension registers"


@pytest.mark.parametrize("action", sorted(CASES), ids=lambda a: f"{a[0]}:{a[1]}")
def test_responses_match_the_output_shape(emulator, account, extension_actions, action):
    calls = Calls(emulator, account)
    CASES[action](calls)
    checked = [r for r in calls.records if (r.service, r.operation) in extension_actions]
    assert action in {(r.service, r.operation) for r in checked}, f"the case never called {action}"
    problems = []
    for record in checked:
        assert record.status == 200, (record, record.body[:500])
        problems += [f"{record.operation}: {p}"
                     for p in shapes.check_output(record.service, record.operation, record.body, record.params)]
    assert not problems, "\n".join(problems)


# -- the checker itself, on bodies known to be wrong ---------------------------------------------------------


def test_output_checker_finds_unknown_members_types_enums_and_required():
    body = json.dumps({"modelDetails": {
        "modelArn": "arn:aws:bedrock:us-east-1::foundation-model/x.y", "modelId": "x.y", "modelNme": "typo",
        "responseStreamingSupported": "yes", "inferenceTypesSupported": ["INFERENCE_PROFILE", "BATCH"],
        "modelLifecycle": {}}}).encode()
    found = [str(p) for p in shapes.check_output("bedrock", "GetFoundationModel", body)]
    assert found == [
        'modelDetails.modelNme: Member is not part of FoundationModelDetails in the model (value typo)',
        'modelDetails.responseStreamingSupported: Member must be of type boolean (value yes)',
        'modelDetails.inferenceTypesSupported.2.member: Member must satisfy enum value set: '
        '[ON_DEMAND, PROVISIONED] (value BATCH)',
        'modelDetails.modelLifecycle.status: Member must not be null (value null)',
    ], "INFERENCE_PROFILE is a known real extra; BATCH is not"


def test_output_checker_reads_the_query_protocols_xml_and_paging():
    body = b"""<ListServiceSpecificCredentialsResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
      <ListServiceSpecificCredentialsResult>
        <ServiceSpecificCredentials><member><UserName>u</UserName><Status>Active</Status>
          <CreateDate>not-a-date</CreateDate><ServiceSpecificCredentialId>ACCA1</ServiceSpecificCredentialId>
          <ServiceName>bedrock.amazonaws.com</ServiceName><Secret>x</Secret></member></ServiceSpecificCredentials>
        <IsTruncated>true</IsTruncated>
      </ListServiceSpecificCredentialsResult>
      <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>
    </ListServiceSpecificCredentialsResponse>"""
    found = [str(p) for p in shapes.check_output("iam", "ListServiceSpecificCredentials", body)]
    assert found == [
        "ServiceSpecificCredentials.1.member.CreateDate: Member must be of type timestamp (value not-a-date)",
        "ServiceSpecificCredentials.1.member.Secret: Member is not part of ServiceSpecificCredentialMetadata "
        "in the model (value x)",
        "IsTruncated: IsTruncated must be true exactly when Marker is returned (value true)",
    ]
    page = json.dumps({"inferenceProfileSummaries": [], "nextToken": ""}).encode()
    assert [str(p) for p in shapes.check_output("bedrock", "ListInferenceProfiles", page)] == [
        "nextToken: A paging token, when present, is not empty (value )"]


def test_output_checker_counts_every_result_key_of_a_page_against_the_limit():
    """IAM GetAccountAuthorizationDetails' paginator has four result keys; MaxItems bounds their items together."""
    body = b"""<GetAccountAuthorizationDetailsResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
      <GetAccountAuthorizationDetailsResult>
        <UserDetailList><member><UserName>u</UserName></member></UserDetailList>
        <GroupDetailList><member><GroupName>g</GroupName></member></GroupDetailList>
        <IsTruncated>false</IsTruncated>
      </GetAccountAuthorizationDetailsResult>
      <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>
    </GetAccountAuthorizationDetailsResponse>"""
    assert [str(p) for p in shapes.check_output("iam", "GetAccountAuthorizationDetails", body, {"MaxItems": 1})] == [
        "UserDetailList+GroupDetailList+RoleDetailList+Policies: At most 1 items a page were asked for (value 2)"]
    assert shapes.check_output("iam", "GetAccountAuthorizationDetails", body, {"MaxItems": 2}) == []


# -- requests: the emulator refuses what breaks the input shape ----------------------------------------------


def _refused(call) -> dict:
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        call()
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return raised.value.response["Error"]


def _tampered(client, change):
    """`client`, with `change(request)` applied to each request just before it is signed."""
    client.meta.events.register("before-sign", lambda request, **_: change(request))
    return client


def _with_json_member(request):
    request.data = json.dumps({**json.loads(request.data or b"{}"), "Bogus": 1}).encode()


def test_rest_json_requests_are_validated(emulator, account):
    calls = Calls(emulator, account)
    bedrock = calls.client("bedrock", parameter_validation=False)
    error = _refused(lambda: bedrock.list_inference_profiles(maxResults=0))
    assert error == {"Code": "ValidationException", "Message": (
        "1 validation error detected: Value '0' at 'maxResults' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1")}
    assert "less than or equal to 1000" in _refused(lambda: bedrock.list_inference_profiles(maxResults=1001))[
        "Message"]
    assert "Value 'many' at 'maxResults' failed to satisfy constraint: Member must be of type integer" in _refused(
        lambda: bedrock.list_inference_profiles(maxResults="many"))["Message"]
    assert "Member must satisfy enum value set: [SYSTEM_DEFINED, APPLICATION]" in _refused(
        lambda: bedrock.list_inference_profiles(typeEquals="BOTH"))["Message"]

    def with_query_member(request):
        request.url += ("&" if "?" in request.url else "?") + "bogus=1"

    tampered = _tampered(calls.client("bedrock"), with_query_member)
    assert "Value '1' at 'bogus' failed to satisfy constraint: Member is not part of " \
           "ListInferenceProfilesRequest" in _refused(tampered.list_inference_profiles)["Message"]


def test_query_requests_are_validated(emulator, account):
    calls = Calls(emulator, account)
    iam = calls.client("iam", parameter_validation=False)
    iam.create_user(UserName="u")
    error = _refused(lambda: iam.create_service_specific_credential(UserName="u"))
    assert error["Code"] == "ValidationError"
    assert error["Message"] == ("1 validation error detected: Value null at 'serviceName' failed to satisfy "
                                "constraint: Member must not be null")
    assert "Value 'ten' at 'credentialAgeDays' failed to satisfy constraint: Member must be of type integer" in \
        _refused(lambda: iam.create_service_specific_credential(
            UserName="u", ServiceName=BEDROCK_KEYS, CredentialAgeDays="ten"))["Message"]
    assert _refused(lambda: iam.simulate_principal_policy(PolicySourceArn="arn:aws:iam::1:user/u"))["Message"] == (
        "1 validation error detected: Value null at 'actionNames' failed to satisfy constraint: "
        "Member must not be null")

    def with_form_member(request):
        request.data = {**request.data, "Bogus": "1"}

    tampered = _tampered(calls.client("iam"), with_form_member)
    assert "Value '1' at 'bogus' failed to satisfy constraint: Member is not part of " \
           "ListServiceSpecificCredentialsRequest" in _refused(tampered.list_service_specific_credentials)["Message"]


def test_json_requests_are_validated(emulator, account):
    calls = Calls(emulator, account)
    ce = calls.client("ce", parameter_validation=False)
    error = _refused(lambda: ce.update_cost_allocation_tags_status())
    assert error == {"Code": "ValidationException", "Message": (
        "1 validation error detected: Value null at 'costAllocationTagsStatus' failed to satisfy constraint: "
        "Member must not be null")}
    assert "2 validation errors detected" in _refused(lambda: ce.update_cost_allocation_tags_status(
        CostAllocationTagsStatus=[{"TagKey": "k", "Status": "On"}, {"TagKey": 7, "Status": "Active"}]))["Message"]
    too_many = [{"TagKey": f"k{i}", "Status": "Active"} for i in range(21)]
    assert "at 'costAllocationTagsStatus' failed to satisfy constraint: Member must have length less than or " \
           "equal to 20" in _refused(lambda: ce.update_cost_allocation_tags_status(
               CostAllocationTagsStatus=too_many))["Message"]
    tampered = _tampered(calls.client("ce"), _with_json_member)
    assert "at 'bogus' failed to satisfy constraint: Member is not part of ListCostAllocationTagsRequest" in \
        _refused(tampered.list_cost_allocation_tags)["Message"]
    budgets = calls.client("budgets", parameter_validation=False)
    assert "Value null at 'budgetName'" in _refused(lambda: budgets.describe_budget(AccountId=account))["Message"]


# -- patterns: Java's regular expressions, as AWS's front end reads them --------------------------------------

PROJECT_SERVICES = ("iam", "sts", "bedrock", "bedrock-runtime", "ce", "budgets", "service-quotas", "secretsmanager")


def test_every_pattern_of_the_project_services_is_checked():
    """No pattern is skipped: each one of the pinned models translates to Python (``\\p{L}`` classes, ``(?i)``
    after the start, ``-`` after a class escape; ``java.util.regex.Pattern``)."""
    untranslated = []
    for service in PROJECT_SERVICES:
        model = shapes.service_model(service)
        for name in model.shape_names:
            pattern = model.shape_for(name).metadata.get("pattern")
            if pattern is not None and shapes._pattern(pattern) is None:
                untranslated.append((service, name, pattern))
    assert untranslated == []


@pytest.mark.parametrize("pattern, value, matches", [
    (r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*", "Ünïcødé 東京 ٣ a/b:c=d+e@f_g.h-i", True),
    (r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*", "a,b", False),
    (r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*", "tab\there", False),
    (r"^(?! )[\p{L}\p{N}\p{Z}-_]*(?<! )$", "a-b_c d", True),
    (r"^(?! )[\p{L}\p{N}\p{Z}-_]*(?<! )$", "a.b", False),
    (r"^(?![^:\\]*/action/|(?i).*<script>.*</script>.*)[^:\\]+$", "bedrock-marketing", True),
    (r"^(?![^:\\]*/action/|(?i).*<script>.*</script>.*)[^:\\]+$", "x<SCRIPT>y</script>", False),
    (r"[\w+=,.@-]+", "bu-user", True),
    (r"[\w+=,.@-]+", "üser", False),
])
def test_java_patterns_mean_what_they_mean_in_java(pattern, value, matches):
    """``\\p{L}``/``\\p{Z}``/``\\p{N}`` are Unicode categories; ``\\w`` is ASCII (Java's default); inline ``(?i)``
    applies to the rest of its group."""
    assert (shapes._pattern(pattern).fullmatch(value) is not None) == matches
