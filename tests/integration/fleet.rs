//! Fleets through the built CLI: a manifest of 30 units applied under 30 % IAM throttling, read back with
//! the SDK; `fleet plan` exit codes (0 nothing to do, 2 changes pending, 1 error); a one-field change shows
//! as exactly that change; a bad manifest makes no AWS call; keys and `--prune`; Ctrl-C mid-apply.

use std::process::{Command, Output};

use crate::common;

use bedrock_provisioner::{core::fleet::FleetReport, mode::AccessMode};
use common::{Account, ok};
use serde_json::{Value, json};

/// The built binary running `fleet ARGS` for `account`, with its output captured.
fn fleet_command(account: &Account, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bedrock-provisioner"));
    command
        .arg("fleet")
        .args(args)
        .env_clear()
        .envs(account.binary_env())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    command
}

fn fleet(account: &Account, args: &[&str]) -> Output {
    let started = std::time::Instant::now();
    let output = fleet_command(account, args).output().unwrap();
    eprintln!("fleet {}: {:?}", args.join(" "), started.elapsed());
    output
}

/// A manifest of `units` units `u00`, `u01`, …; `owner` gives each its owner.
fn manifest(units: usize, owner: impl Fn(usize) -> String) -> String {
    let mut text = String::from("[defaults]\npurpose = \"fleet test\"\n");
    for i in 0..units {
        text.push_str(&format!(
            "\n[[unit]]\nname = \"u{i:02}\"\nowner = \"{}\"\ntags = {{ cost-center = \"cc-{i}\" }}\n",
            owner(i)
        ));
    }
    text
}

fn write(account: &Account, text: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("bp-fleet-{}.toml", account.id));
    std::fs::write(&path, text).unwrap();
    path
}

/// The second half of a 30-unit manifest lives in another account.
fn split_manifest(other: &Account, owner: impl Fn(usize) -> String) -> String {
    let mut text = manifest(30, owner);
    for i in 15..30 {
        let entry = format!("name = \"u{i:02}\"\n");
        text = text.replace(&entry, &format!("{entry}account = \"{}\"\n", other.id));
    }
    text
}

/// The units `from..to` with their tags and the one policy attached, and nothing else of this tool, read
/// with the SDK in `account`.
async fn holds_exactly(
    account: &Account,
    from: usize,
    to: usize,
    extra: &[&str],
    owner: impl Fn(usize) -> String,
) {
    let iam = account.iam().await;
    let users = iam
        .list_users()
        .path_prefix("/bedrock-provisioner/")
        .send()
        .await
        .unwrap();
    let mut names: Vec<&str> = users.users().iter().map(|u| u.user_name()).collect();
    names.sort_unstable();
    let mut expected: Vec<String> = (from..to)
        .map(|i| format!("u{i:02}-bedrock-user"))
        .collect();
    expected.extend(extra.iter().map(|u| format!("{u}-bedrock-user")));
    expected.sort();
    assert_eq!(names, expected, "account {}", account.id);
    for i in [from, (from + to) / 2, to - 1] {
        let user = format!("u{i:02}-bedrock-user");
        let tags = iam.list_user_tags().user_name(&user).send().await.unwrap();
        let tag = |key: &str| {
            tags.tags()
                .iter()
                .find(|t| t.key() == key)
                .map(|t| t.value().to_owned())
        };
        assert_eq!(tag("owner"), Some(owner(i)));
        assert_eq!(tag("cost-center"), Some(format!("cc-{i}")));
        assert_eq!(account.attached_policy_count(&user).await, 1, "{user}");
    }
    assert_eq!(account.local_policy_count().await, 1, "one shared policy");
}

/// `fleet apply FILE` with no flags (the defaults users get) while 30 % of IAM calls are throttled in
/// `account` and in `other` (reached with a role session's key). Issue 21: with 3 attempts per call and no
/// unit retries, 0 of 6 such runs converged; the project's test passed only with `--max-attempts 10`.
fn throttled_apply(account: &Account, other: &Account, file: &str) -> Output {
    account.fault(json!({"action": "*", "service": "iam", "kind": "throttle", "percent": 30}));
    common::emulator().control(
        "POST",
        "faults",
        &json!({"action": "*", "service": "iam", "kind": "throttle", "percent": 30,
            "account": other.id})
        .to_string(),
    );
    fleet(account, &["apply", file])
}

/// Issue 21: "a 30-unit, two-account apply under 30 % IAM throttling converges on one run with no flags, 10
/// runs of 10". Each run in fresh accounts; prints each run's time and throttled calls, and the tally.
/// Run with `make bench` (the suite's own test runs it once).
#[tokio::test]
#[ignore = "benchmark; run with make bench"]
async fn bench_thirty_units_under_throttling_ten_runs() {
    let runs = std::env::var("FLEET_THROTTLE_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10);
    let mut converged = 0;
    for run in 1..=runs {
        let account = Account::new();
        let other = Account::new();
        trust(&other, &account).await;
        let owner = |i: usize| format!("team-{i}@example.com");
        let path = write(&account, &split_manifest(&other, owner));
        // The benchmark runs alone: the requests logged during the apply are its own.
        let logged = || common::emulator().control("GET", "requests", "")["requests"].clone();
        let before = logged().as_array().map_or(0, Vec::len);
        let started = std::time::Instant::now();
        let applied = throttled_apply(&account, &other, path.to_str().unwrap());
        let took = started.elapsed();
        let requests = logged();
        let iam: Vec<&Value> = requests.as_array().unwrap()[before..]
            .iter()
            .filter(|r| r["service"] == "iam")
            .collect();
        let throttled = iam.iter().filter(|r| r["fault"] == "throttle").count();
        account.clear_faults();
        other.clear_faults();
        let stdout = String::from_utf8_lossy(&applied.stdout);
        let summary = stdout.lines().last().unwrap_or_default().to_owned();
        let ok = applied.status.success() && summary.contains("30 units: 30 changed, 0 failed");
        converged += usize::from(ok);
        eprintln!(
            "run {run:2}: {} in {:.1} s, {throttled} of {} IAM calls throttled: {summary}",
            if ok { "converged" } else { "FAILED" },
            took.as_secs_f64(),
            iam.len()
        );
    }
    eprintln!(
        "30 units, two accounts, 30 % of IAM calls throttled, no flags: {converged} of {runs} runs converged on one run"
    );
    assert_eq!(converged, runs);
}

#[tokio::test]
async fn a_thirty_unit_fleet_applies_under_throttling_and_then_plans_nothing() {
    let account = Account::new();
    let other = Account::new();
    trust(&other, &account).await;
    let client = account.provisioned(&["legacy"]).await;
    client.cancel().await.ok();
    let owner = |i: usize| format!("team-{i}@example.com");
    let path = write(&account, &split_manifest(&other, owner));
    let file = path.to_str().unwrap();
    let applied = throttled_apply(&account, &other, file);
    let stdout = String::from_utf8_lossy(&applied.stdout);
    assert!(
        applied.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&applied.stderr)
    );
    assert!(
        stdout.contains("30 units: 30 changed, 0 failed"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "legacy                       account {}: not in the manifest: left alone",
            account.id
        )),
        "{stdout}"
    );
    let throttled = account
        .requests()
        .iter()
        .filter(|r| r["fault"] == "throttle")
        .count();
    assert!(
        throttled >= 10,
        "the SDK retried {throttled} throttled calls"
    );
    let everyone = common::emulator().control("GET", "requests", "");
    let throttled_there = everyone["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["fault"] == "throttle")
        .filter(|r| {
            r["access_key"]
                .as_str()
                .is_some_and(|k| k.starts_with("ASIA"))
        })
        .count();
    assert!(
        throttled_there >= 10,
        "the role session in the other account was throttled {throttled_there} times"
    );

    account.clear_faults();
    other.clear_faults();
    // An independent read per account: exactly the manifest's users, with its tags and the policy attached.
    holds_exactly(&account, 0, 15, &["legacy"], owner).await;
    holds_exactly(&other, 15, 30, &[], owner).await;

    let planned = fleet(&account, &["plan", file]);
    assert_eq!(
        planned.status.code(),
        Some(0),
        "nothing to do after apply: {}\n{}",
        String::from_utf8_lossy(&planned.stdout),
        String::from_utf8_lossy(&planned.stderr)
    );

    // One owner changed in the file: the plan shows exactly that change, and exits 2.
    write(
        &account,
        &split_manifest(&other, |i| {
            if i == 7 {
                "new-owner@example.com".to_owned()
            } else {
                owner(i)
            }
        }),
    );
    let planned = fleet(
        &account,
        &["plan", file, "--concurrency", "30", "--output", "json"],
    );
    assert_eq!(planned.status.code(), Some(2));
    let report: Value = serde_json::from_slice(&planned.stdout).unwrap();
    let typed: FleetReport = serde_json::from_value(report.clone()).unwrap();
    let changed: Vec<_> = typed
        .units
        .iter()
        .filter(|u| !u.changes.is_empty())
        .collect();
    assert_eq!(changed.len(), 1, "{typed:#?}");
    assert_eq!(changed[0].business_unit, "u07");
    assert_eq!(
        changed[0].changes,
        ["user tags u07-bedrock-user: would set tags owner=new-owner@example.com"]
    );
    // The absent unit as the CLI writes it, every member named.
    assert_eq!(
        report["absent"],
        json!([{"business_unit": "legacy", "account": account.id, "removes": false,
            "user_name": "legacy-bedrock-user", "detail": "not in the manifest: left alone",
            "error": null, "deleted_with": []}])
    );
}

/// A manifest whose units keep a key: `plan --prune` shows the keys to create and the unit to remove;
/// `apply --prune` without `--yes` changes nothing; with it every unit gets one key in its secret and the
/// absent unit is gone (read back with the SDK); a second apply changes nothing.
#[tokio::test]
async fn apply_gives_each_unit_one_delivered_key_and_prune_removes_only_when_confirmed() {
    let account = Account::new();
    let client = account.provisioned(&["legacy"]).await;
    client.cancel().await.ok();
    let text = format!(
        "{}\n[defaults.key]\ndeliver = \"secrets_manager\"\nmax_age_days = 14\n",
        manifest(3, |i| format!("o{i}@example.com"))
    );
    let path = write(&account, &text);
    let file = path.to_str().unwrap();

    let planned = fleet(&account, &["plan", file, "--prune", "--output", "json"]);
    assert_eq!(planned.status.code(), Some(2));
    let report: FleetReport = serde_json::from_slice(&planned.stdout).unwrap();
    for unit in &report.units {
        assert!(
            unit.changes
                .iter()
                .any(|c| c.contains("api key: create one, delivered to secrets_manager")),
            "{unit:#?}"
        );
    }
    assert_eq!(report.absent[0].business_unit, "legacy");
    assert!(report.absent[0].removes);

    let refused = fleet(&account, &["apply", file, "--prune"]);
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("would remove 1 managed unit"), "{stderr}");
    assert!(stderr.contains("--yes"), "the CLI's own flag: {stderr}");
    assert_eq!(user_names(&account).await, ["legacy-bedrock-user"]);

    let audit = std::env::temp_dir().join(format!("bp-fleet-audit-{}.jsonl", account.id));
    let applied = fleet(
        &account,
        &[
            "apply",
            file,
            "--prune",
            "--yes",
            "--audit-log",
            audit.to_str().unwrap(),
        ],
    );
    let stdout = String::from_utf8_lossy(&applied.stdout);
    assert!(applied.status.success(), "{stdout}");
    assert!(
        stdout.contains("removed: user legacy-bedrock-user"),
        "{stdout}"
    );
    // The audit record names what the apply created (users, keys) and removed.
    let log = std::fs::read_to_string(&audit).unwrap();
    let record: Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    assert_eq!(record["tool"], "apply_fleet");
    assert_eq!(
        record["deleted"],
        json!(["legacy-bedrock-user"]),
        "{record}"
    );
    let created: Vec<&str> = record["created"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap())
        .collect();
    for unit in ["u00", "u01", "u02"] {
        assert!(
            created.contains(&format!("{unit}-bedrock-user").as_str()),
            "{created:?}"
        );
    }
    let keys = created.iter().filter(|id| id.starts_with("ACCA")).count();
    assert_eq!(keys, 3, "the three keys: {created:?}");
    assert_eq!(
        user_names(&account).await,
        ["u00-bedrock-user", "u01-bedrock-user", "u02-bedrock-user"]
    );
    let mut keys = Vec::new();
    for unit in ["u00", "u01", "u02"] {
        let unit_keys = account.keys_in_aws(&format!("{unit}-bedrock-user")).await;
        assert_eq!(unit_keys.len(), 1, "{unit}: {unit_keys:?}");
        assert_eq!(
            account.secret_key_id(unit).await.as_deref(),
            Some(unit_keys[0].0.as_str())
        );
        keys.push(unit_keys[0].0.clone());
    }
    let again = fleet(&account, &["apply", file, "--prune", "--yes"]);
    assert!(again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("3 units: 0 changed, 0 failed"),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
    for (unit, key) in ["u00", "u01", "u02"].iter().zip(&keys) {
        let unit_keys = account.keys_in_aws(&format!("{unit}-bedrock-user")).await;
        assert_eq!(unit_keys.len(), 1, "no second key for {unit}");
        assert_eq!(&unit_keys[0].0, key);
    }
    assert_eq!(
        fleet(&account, &["plan", file, "--prune"]).status.code(),
        Some(0)
    );
}

/// Ctrl-C during an apply: the units in flight finish, no other starts, the units not started are named,
/// and every user that exists is complete; a second apply finishes the rest.
#[tokio::test]
async fn an_interrupted_apply_finishes_the_units_in_flight_and_a_rerun_completes_it() {
    use std::io::{BufRead, BufReader};
    let account = Account::new();
    let path = write(&account, &manifest(12, |i| format!("o{i}@example.com")));
    let file = path.to_str().unwrap();
    account.fault(
        json!({"action": "*", "service": "iam", "kind": "latency", "latency_ms": 150,
        "access_key": account.id}),
    );
    let mut child = fleet_command(
        &account,
        &["apply", file, "--concurrency", "2", "--output", "json"],
    )
    .spawn()
    .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.starts_with("[1/12] ") {
        line.clear();
        assert_ne!(stderr.read_line(&mut line).unwrap(), 0, "no progress line");
    }
    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{rest}");
    assert!(
        rest.contains("interrupted: finishing the units in flight"),
        "{rest}"
    );
    let report: FleetReport = serde_json::from_slice(&output.stdout).unwrap();
    assert!(report.cancelled);
    let not_started = report
        .units
        .iter()
        .filter(|u| {
            u.error
                .as_deref()
                .is_some_and(|e| e.starts_with("not started"))
        })
        .count();
    account.clear_faults();
    let users = user_names(&account).await;
    assert!(
        users.len() >= 2 && users.len() <= 5 && not_started == 12 - users.len(),
        "two in flight when stopped: {users:?}, {not_started} not started"
    );
    for user in &users {
        assert_eq!(
            account.attached_policy_count(user).await,
            1,
            "{user} is complete"
        );
    }
    let rerun = fleet(&account, &["apply", file]);
    assert!(rerun.status.success());
    assert_eq!(user_names(&account).await.len(), 12);
    assert_eq!(fleet(&account, &["plan", file]).status.code(), Some(0));
}

#[tokio::test]
async fn a_bad_manifest_is_refused_with_its_line_before_any_aws_call() {
    let account = Account::new();
    let path = write(
        &account,
        "[[unit]]\nname = \"ok\"\nowner = \"o\"\npurpose = \"p\"\n\n[[unit]]\nname = \"x\"\nowner = \"o\"\npurpose = \"p\"\naccount = \"12\"\n",
    );
    let refused = fleet(&account, &["plan", path.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains(&format!("{}:7: unit `x` account", path.display())),
        "{stderr}"
    );
    assert!(stderr.contains("12-digit"), "{stderr}");
    assert!(account.actions().is_empty(), "{:?}", account.actions());
}

/// A unit's `role` reaches `sts:AssumeRole` only once it is an IAM role name (or `path/name`): a
/// wildcard, an ARN, 100 KB or a line break are refused with the line and field, before any AWS call,
/// and a refused value cannot forge a line of the log.
#[tokio::test]
async fn a_bad_role_is_refused_with_its_line_before_any_aws_call() {
    let account = Account::new();
    for role in [
        "*".to_owned(),
        String::new(),
        "arn:aws:iam::111122223333:role/OrganizationAccountAccessRole".to_owned(),
        "R".repeat(100_000),
        "R\\nINFO fake log line".to_owned(),
    ] {
        let path = write(
            &account,
            &format!(
                "[[unit]]\nname = \"ok\"\nowner = \"o\"\npurpose = \"p\"\n\n[[unit]]\nname = \"x\"\nowner = \"o\"\n\
                 purpose = \"p\"\naccount = \"111122223333\"\nrole = \"{role}\"\n"
            ),
        );
        let refused = fleet(&account, &["plan", path.to_str().unwrap()]);
        assert_eq!(refused.status.code(), Some(1), "{role:.40}");
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(
            stderr.contains(&format!("{}:7: unit `x` role", path.display())),
            "{role:.40}: {stderr:.2000}"
        );
        assert!(
            !stderr.lines().any(|l| l.starts_with("INFO")) && stderr.len() < 4000,
            "{stderr:.2000}"
        );
    }
    assert!(account.actions().is_empty(), "{:?}", account.actions());
}

/// Units in another account are provisioned there, through the role the manifest names (STS AssumeRole
/// into a second emulator account whose trust policy allows the caller); an account that cannot be
/// reached fails its own units only.
#[tokio::test]
async fn other_accounts_are_reached_through_their_role_and_an_unreachable_one_fails_alone() {
    let home = Account::new();
    let other = Account::new();
    let unreachable = Account::new();
    trust(&other, &home).await;
    let text = format!(
        "[defaults]\nowner = \"o\"\npurpose = \"p\"\n\n[[unit]]\nname = \"h1\"\n\n[[unit]]\nname = \"o1\"\n\
         account = \"{}\"\n\n[[unit]]\nname = \"o2\"\naccount = \"{}\"\n\n[[unit]]\nname = \"x1\"\n\
         account = \"{}\"\n",
        other.id, other.id, unreachable.id
    );
    let path = write(&home, &text);
    let applied = fleet(
        &home,
        &["apply", path.to_str().unwrap(), "--output", "json"],
    );
    assert_eq!(applied.status.code(), Some(1), "x1 cannot be reached");
    let report: FleetReport = serde_json::from_slice(&applied.stdout).unwrap();
    let unit = |name: &str| {
        report
            .units
            .iter()
            .find(|u| u.business_unit == name)
            .unwrap()
            .clone()
    };
    for name in ["h1", "o1", "o2"] {
        assert_eq!(unit(name).error, None, "{report:#?}");
    }
    let refused = unit("x1").error.unwrap();
    assert!(
        refused.contains(&format!("cannot reach account {}", unreachable.id)),
        "{refused}"
    );
    // Read back per account, independently.
    assert_eq!(user_names(&home).await, ["h1-bedrock-user"]);
    assert_eq!(
        user_names(&other).await,
        ["o1-bedrock-user", "o2-bedrock-user"]
    );
    assert!(user_names(&unreachable).await.is_empty());

    // The list tools take the manifest's accounts: every unit with its account, the unreachable one named.
    let listed = Command::new(env!("CARGO_BIN_EXE_bedrock-provisioner"))
        .args([
            "list-business-units",
            "--manifest",
            path.to_str().unwrap(),
            "--output",
            "json",
        ])
        .env_clear()
        .envs(home.binary_env())
        .output()
        .unwrap();
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let list: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let units: Vec<(String, String)> = list["business_units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["account"].as_str().unwrap().to_owned(),
                u["business_unit"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        units,
        [
            (home.id.clone(), "h1".to_owned()),
            (other.id.clone(), "o1".to_owned()),
            (other.id.clone(), "o2".to_owned())
        ]
    );
    let unreachable_note = list["unreachable"].to_string();
    assert!(
        unreachable_note.contains(&format!("cannot reach account {}", unreachable.id)),
        "{list:#}"
    );
}

/// The manifest's default role in `account`, trusting `caller`'s account, allowed everything there.
pub(crate) async fn trust(account: &Account, caller: &Account) {
    let iam = account.iam().await;
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{}:root", caller.id)}, "Action": "sts:AssumeRole"}]});
    iam.create_role()
        .role_name("OrganizationAccountAccessRole")
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .unwrap();
    let admin = json!({"Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]});
    iam.put_role_policy()
        .role_name("OrganizationAccountAccessRole")
        .policy_name("admin")
        .policy_document(admin.to_string())
        .send()
        .await
        .unwrap();
}

/// The IAM users of `account`, sorted, read with the SDK.
async fn user_names(account: &Account) -> Vec<String> {
    let users = account.iam().await.list_users().send().await.unwrap();
    let mut names: Vec<String> = users
        .users()
        .iter()
        .map(|u| u.user_name().to_owned())
        .collect();
    names.sort();
    names
}

/// 31 days after the keys were made (the emulator's clock moved), a sweep leaves every unit that had a due
/// key with exactly one fresh active key, the one its secret holds, and never a unit without a working key
/// while it runs (watched between its slowed-down steps); a unit with a fresh key and a unit without keys
/// are left alone, and a dry run changes nothing.
#[tokio::test]
async fn a_sweep_after_31_days_leaves_each_unit_one_fresh_delivered_key() {
    let account = Account::new();
    let client = account.provisioned(&["a", "b", "c", "fresh", "none"]).await;
    let create = |unit: &'static str| {
        let client = &client;
        async move {
            // `c`'s key expires after 30 days; the others' are only due for rotation after 31.
            let days = if unit == "c" { 30 } else { 90 };
            let args = json!({"business_unit": unit, "deliver": "secrets_manager",
                "credential_age_days": days});
            common::ok(&common::call(client, "create_api_key", args).await)["credential_id"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    // The old keys are made 31 days ago (the emulator's clock set back, then forward to now again), so
    // AWS and the tool agree on their age.
    let clock = |days: i64| {
        let offset = json!({"account": account.id, "offset_seconds": days * 86_400});
        common::emulator().control("POST", "clock", &offset.to_string());
    };
    clock(-31);
    let mut old = Vec::new();
    for unit in ["a", "b", "c"] {
        old.push(create(unit).await);
    }
    clock(0);
    let fresh = create("fresh").await;

    let dry = fleet(
        &account,
        &["sweep", "--dry-run", "--deliver", "secrets-manager"],
    );
    let stdout = String::from_utf8_lossy(&dry.stdout);
    assert!(dry.status.success(), "{stdout}");
    assert_eq!(stdout.matches("would replace").count(), 3, "{stdout}");
    for (unit, id) in ["a", "b", "c"].iter().zip(&old) {
        let keys = account.keys_in_aws(&format!("{unit}-bedrock-user")).await;
        assert_eq!(keys.len(), 1);
        assert_eq!(&keys[0].0, id, "a dry run changes nothing");
    }

    // Every IAM call slowed down, so the sweep's steps can be watched: between any two of them, each unit
    // still has a working key.
    account.fault(
        json!({"action": "*", "service": "iam", "kind": "latency", "latency_ms": 60,
        "access_key": account.id}),
    );
    let sweep = fleet_command(
        &account,
        &["sweep", "--deliver", "secrets-manager", "--output", "json"],
    )
    .spawn()
    .unwrap();
    let mut samples = 0;
    let watched = ["a", "b"].map(|u| format!("{u}-bedrock-user"));
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let finished = done.clone();
    let waiter = std::thread::spawn(move || {
        let output = sweep.wait_with_output().unwrap();
        finished.store(true, std::sync::atomic::Ordering::SeqCst);
        output
    });
    while !done.load(std::sync::atomic::Ordering::SeqCst) {
        for user in &watched {
            let keys = account.keys_in_aws(user).await;
            assert!(
                keys.iter().any(|(_, status)| status == "Active"),
                "{user} had no working key mid-sweep: {keys:?}"
            );
        }
        samples += 1;
    }
    let swept = waiter.join().unwrap();
    assert!(samples >= 3, "the sweep was watched {samples} times");
    account.clear_faults();
    assert!(
        swept.status.success(),
        "{}",
        String::from_utf8_lossy(&swept.stderr)
    );
    let report: Value = serde_json::from_slice(&swept.stdout).unwrap();
    for (unit, id) in ["a", "b", "c"].iter().zip(&old) {
        let keys = account.keys_in_aws(&format!("{unit}-bedrock-user")).await;
        assert_eq!(keys.len(), 1, "{unit}: {keys:?}");
        assert_eq!(keys[0].1, "Active", "{unit}");
        assert_ne!(&keys[0].0, id, "{unit}: a new key");
        assert_eq!(
            account.secret_key_id(unit).await.as_deref(),
            Some(keys[0].0.as_str())
        );
    }
    let keys = account.keys_in_aws("fresh-bedrock-user").await;
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].0, fresh, "a fresh key is left alone");
    let none = report["units"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["business_unit"] == "none")
        .unwrap();
    assert_eq!(none["replaced"], Value::Null, "{report:#}");
    client.cancel().await.ok();
}

/// A sweep given the manifest needs no `--deliver`: each unit's `key.deliver` applies (the server's default
/// is inline), and so does its `max_age_days`; a unit the manifest does not name keeps the server's
/// rotation period.
#[tokio::test]
async fn a_sweep_with_the_manifest_follows_each_unit_s_key_settings() {
    let account = Account::new();
    let client = account.provisioned(&["m", "n", "o"]).await;
    let clock = |days: i64| {
        let offset = json!({"account": account.id, "offset_seconds": days * 86_400});
        common::emulator().control("POST", "clock", &offset.to_string());
    };
    let mut old = Vec::new();
    for (unit, age) in [("m", 40), ("n", 10), ("o", 10)] {
        clock(-age);
        let args =
            json!({"business_unit": unit, "deliver": "secrets_manager", "credential_age_days": 90});
        let created = common::ok(&common::call(&client, "create_api_key", args).await);
        old.push(created["credential_id"].as_str().unwrap().to_owned());
    }
    clock(0);
    client.cancel().await.ok();
    let text = "[defaults]\nowner = \"o\"\npurpose = \"p\"\nkey = { deliver = \"secrets_manager\" }\n\n\
                [[unit]]\nname = \"m\"\n\n[[unit]]\nname = \"n\"\nkey = { max_age_days = 7 }\n";
    let path = write(&account, text);
    let swept = fleet(
        &account,
        &["sweep", path.to_str().unwrap(), "--output", "json"],
    );
    assert!(
        swept.status.success(),
        "{}{}",
        String::from_utf8_lossy(&swept.stdout),
        String::from_utf8_lossy(&swept.stderr)
    );
    for (unit, old) in ["m", "n", "o"].iter().zip(&old) {
        let keys = account.keys_in_aws(&format!("{unit}-bedrock-user")).await;
        assert_eq!(keys.len(), 1, "{unit}: {keys:?}");
        if *unit == "o" {
            assert_eq!(
                &keys[0].0, old,
                "o is not in the manifest: 10 days is fresh"
            );
        } else {
            assert_ne!(&keys[0].0, old, "{unit} was due");
            assert_eq!(
                account.secret_key_id(unit).await.as_deref(),
                Some(keys[0].0.as_str())
            );
        }
    }
}

/// The same fleet through the MCP tools: `plan_fleet` with an inline manifest, `apply_fleet`, a second plan
/// with nothing to do, and `sweep_keys` refusing inline delivery and naming the field.
#[tokio::test]
async fn the_fleet_tools_plan_apply_and_sweep_over_mcp() {
    let account = Account::new();
    let client = account
        .mcp(bedrock_provisioner::mode::AccessMode::Provision)
        .await;
    let manifest = manifest(2, |i| format!("owner-{i}@example.com"));
    let plan: FleetReport =
        common::report(&common::call(&client, "plan_fleet", json!({"manifest": manifest})).await);
    assert_eq!(plan.units.len(), 2);
    assert!(!plan.units[0].changes.is_empty());
    assert!(
        account.actions().iter().all(|a| !common::is_mutation(a)),
        "a plan changes nothing"
    );
    common::ok(&common::call(&client, "apply_fleet", json!({"manifest": manifest})).await);
    assert_eq!(
        user_names(&account).await,
        ["u00-bedrock-user", "u01-bedrock-user"]
    );
    let again: FleetReport =
        common::report(&common::call(&client, "plan_fleet", json!({"manifest": manifest})).await);
    assert!(
        again.units.iter().all(|u| u.changes.is_empty()),
        "{again:#?}"
    );
    let bad = common::call(
        &client,
        "plan_fleet",
        json!({"manifest": "[[unit]]\nname = \"a\"\nowner = \"o\"\npurpose = \"p\"\naccount = \"1\"\n"}),
    )
    .await;
    assert_eq!(bad.is_error, Some(true));
    assert!(
        common::text(&bad).contains("manifest:2: unit `a` account"),
        "{}",
        common::text(&bad)
    );
    let prune = common::call(
        &client,
        "apply_fleet",
        json!({"manifest": manifest, "prune": true, "confirm": true}),
    )
    .await;
    assert_eq!(prune.is_error, Some(true));
    assert!(
        common::text(&prune).contains("invalid `prune`")
            && common::text(&prune).contains("admin mode"),
        "{}",
        common::text(&prune)
    );
    let inline = common::call(&client, "sweep_keys", json!({"deliver": "inline"})).await;
    assert_eq!(inline.is_error, Some(true));
    assert!(
        common::text(&inline).contains("invalid `deliver`"),
        "{}",
        common::text(&inline)
    );
    client.cancel().await.ok();
}

/// Issue 20 (4): a fleet run outlives its role sessions. The emulator expires a session after its
/// `DurationSeconds` on its clock (403 `ExpiredToken`, as AWS); halfway through an apply, time moves on by
/// 61 minutes (the emulator's clock for the member account, and the clock the server's SDK judges
/// credentials by), and the run finishes every unit: the session renews itself by assuming the role again.
/// The operator is named as `SourceIdentity` where the role's trust allows `sts:SetSourceIdentity`; this
/// role (like `OrganizationAccountAccessRole`) does not, so the role is assumed without it.
#[tokio::test]
async fn a_fleet_run_outlives_its_role_session() {
    let account = Account::new();
    let other = Account::new();
    trust(&other, &account).await;
    let mut text = manifest(8, |i| format!("o{i}@example.com"));
    for i in 0..8 {
        let entry = format!("name = \"u{i:02}\"\n");
        text = text.replace(&entry, &format!("{entry}account = \"{}\"\n", other.id));
    }
    common::emulator().control(
        "POST",
        "faults",
        &json!({"action": "CreateUser", "kind": "latency", "latency_ms": 300, "account": other.id})
            .to_string(),
    );
    let clock = common::TestClock::default();
    let client = account
        .mcp_with(AccessMode::Provision, account.settings_on(&clock))
        .await;
    let arguments = json!({"manifest": text, "concurrency": 1});
    let call = rmcp::model::CallToolRequestParams::new("apply_fleet")
        .with_arguments(arguments.as_object().unwrap().clone());
    let pending = tokio::spawn(async move { client.call_tool(call).await });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while user_names(&other).await.len() < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "the run never got going"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    clock.advance(3660);
    clock.share_with(&other);
    let result = pending.await.unwrap().unwrap();
    common::TestClock::default().share_with(&other);
    let report: FleetReport = common::report(&result);
    let failed: Vec<_> = report.units.iter().filter(|u| u.error.is_some()).collect();
    assert!(failed.is_empty(), "{report:#?}");
    assert_eq!(user_names(&other).await.len(), 8);
    let sessions: Vec<Value> = common::emulator().control("GET", "requests", "")["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "AssumeRole" && r["access_key"] == account.id.as_str())
        .cloned()
        .collect();
    let assumed = sessions.iter().filter(|r| r["status"] == 200).count();
    assert!(
        assumed >= 2,
        "the role was assumed again when its session ended: {sessions:?}"
    );
    other.clear_faults();
}

/// Issue 21: `--prune` removes only users this tool could have made. A user at `/` that carries a
/// `MANAGED-BY` tag (anyone allowed `iam:TagUser` can write one), and a managed user whose name is no valid
/// business unit (`Legacy-bedrock-user`), are left alone and reported so, and the prune succeeds.
#[tokio::test]
async fn prune_removes_only_users_under_the_tools_path_with_a_units_name() {
    let account = Account::new();
    let iam = account.iam().await;
    let tag = |k: &str, v: &str| {
        aws_sdk_iam::types::Tag::builder()
            .key(k)
            .value(v)
            .build()
            .unwrap()
    };
    iam.create_user()
        .user_name("rogue-bedrock-user")
        .tags(tag("MANAGED-BY", "bedrock-provisioner"))
        .send()
        .await
        .unwrap();
    iam.create_user()
        .user_name("Legacy-bedrock-user")
        .path("/bedrock-provisioner/")
        .tags(tag("managed-by", "bedrock-provisioner"))
        .send()
        .await
        .unwrap();
    let path = write(&account, &manifest(1, |_| "o@example.com".to_owned()));
    let file = path.to_str().unwrap();
    let applied = fleet(&account, &["apply", file, "--prune", "--yes"]);
    let stdout = String::from_utf8_lossy(&applied.stdout);
    assert!(
        applied.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&applied.stderr)
    );
    assert!(
        stdout.contains("left alone (not under the IAM path"),
        "{stdout}"
    );
    let names = user_names(&account).await;
    for kept in ["rogue-bedrock-user", "Legacy-bedrock-user"] {
        assert!(
            names.iter().any(|n| n == kept),
            "{kept} was removed: {names:?}"
        );
    }
}

/// Issue 23 (3): `cap_usd` in the manifest is each unit's monthly spend cap, planned and applied by the fleet
/// (the tag on the unit's user that `enforce` reads); a second apply changes nothing, and a bad cap is
/// refused with its line before any AWS call.
#[tokio::test]
async fn the_manifest_sets_each_units_spend_cap() {
    let account = Account::new();
    let text = "[defaults]\npurpose = \"p\"\nowner = \"o@example.com\"\ncap_usd = 250\n\n[[unit]]\nname = \"capped\"\n\n[[unit]]\nname = \"bigger\"\ncap_usd = 1000\n";
    let path = write(&account, text);
    let file = path.to_str().unwrap();
    let planned = fleet(&account, &["plan", file]);
    let stdout = String::from_utf8_lossy(&planned.stdout);
    assert!(
        stdout.contains("spend cap: set to 250.00 USD a month"),
        "{stdout}"
    );
    let applied = fleet(&account, &["apply", file]);
    assert!(
        applied.status.success(),
        "{}",
        String::from_utf8_lossy(&applied.stderr)
    );
    let iam = account.iam().await;
    for (user, cap) in [
        ("capped-bedrock-user", "250.00"),
        ("bigger-bedrock-user", "1000.00"),
    ] {
        let tags = iam.list_user_tags().user_name(user).send().await.unwrap();
        let value = tags
            .tags()
            .iter()
            .find(|t| t.key() == "bedrock-provisioner:monthly-cap-usd")
            .map(|t| t.value().to_owned());
        assert_eq!(value.as_deref(), Some(cap), "{user}");
    }
    assert_eq!(
        fleet(&account, &["plan", file]).status.code(),
        Some(0),
        "nothing left to change"
    );
    let bad = write(
        &account,
        "[[unit]]\nname = \"x\"\npurpose = \"p\"\nowner = \"o\"\ncap_usd = -5\n",
    );
    let refused = fleet(&account, &["plan", bad.to_str().unwrap()]);
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("cap_usd") && said.contains(":2: unit `x`"),
        "{said}"
    );
}

/// An admin-mode MCP client for `account` whose mutating calls are audited into a fresh file.
async fn audited_client(
    account: &Account,
    name: &str,
) -> (
    rmcp::service::RunningService<rmcp::RoleClient, ()>,
    std::path::PathBuf,
) {
    use rmcp::ServiceExt;
    let path = std::env::temp_dir().join(format!("bp-{name}-{}.jsonl", account.id));
    let _ = std::fs::remove_file(&path);
    let audit = bedrock_provisioner::audit::AuditLog::open(&path).unwrap();
    let io = common::serve_in_process_audited(AccessMode::Admin, account.settings(), audit);
    (().serve(io).await.unwrap(), path)
}

/// The audit records written to `path`, in order.
fn audit_records(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Issue 21 (10): a unit that fails after `CreateUser` (its policy attach throttled) is listed with its
/// user: in its changes and in `created`, in the report and the audit record, whether a later attempt of
/// the same run got through (before: the user showed as unchanged and no one listed it) or the unit failed
/// (before: the user existed and nothing said so); a re-run converges.
#[tokio::test]
async fn a_unit_that_fails_after_its_user_was_created_lists_the_user() {
    let account = Account::new();
    let (client, audit) = audited_client(&account, "after-create").await;
    let text = "[defaults]\nowner = \"o\"\npurpose = \"p\"\n\n[[unit]]\nname = \"f0\"\n";
    // The first attempt of the unit spends the SDK's five tries on the attach; the second gets through.
    account.fault(json!({"action": "AttachUserPolicy", "kind": "throttle", "count": 5}));
    let applied = ok(&common::call(&client, "apply_fleet", json!({"manifest": text})).await);
    account.clear_faults();
    let unit = &applied["units"][0];
    assert_eq!(unit["error"], Value::Null, "{applied:#}");
    assert!(
        unit["created"]
            .as_array()
            .unwrap()
            .contains(&json!("f0-bedrock-user")),
        "{applied:#}"
    );
    assert!(
        unit["changes"]
            .to_string()
            .contains("iam user f0-bedrock-user"),
        "{applied:#}"
    );
    let record = audit_records(&audit).pop().unwrap();
    assert!(
        record["created"]
            .as_array()
            .unwrap()
            .contains(&json!("f0-bedrock-user")),
        "{record}"
    );

    // Every attempt's attach throttled: the unit fails, and its user is still listed.
    let text = format!("{text}\n[[unit]]\nname = \"f1\"\n");
    account.fault(json!({"action": "AttachUserPolicy", "kind": "throttle"}));
    let failed = common::call(&client, "apply_fleet", json!({"manifest": text})).await;
    account.clear_faults();
    let failed = failed.structured_content.clone().unwrap_or_default();
    let unit = failed["units"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["business_unit"] == "f1")
        .unwrap()
        .clone();
    assert!(
        unit["error"].as_str().unwrap().contains("throttled"),
        "{failed:#}"
    );
    assert_eq!(unit["created"], json!(["f1-bedrock-user"]), "{failed:#}");
    assert!(
        unit["changes"]
            .to_string()
            .contains("iam user f1-bedrock-user"),
        "{failed:#}"
    );
    assert!(account.user_exists("f1-bedrock-user").await);
    let record = audit_records(&audit).pop().unwrap();
    assert_eq!(record["outcome"], "partial:1 of 2 units failed", "{record}");
    assert!(
        record["created"]
            .as_array()
            .unwrap()
            .contains(&json!("f1-bedrock-user")),
        "{record}"
    );

    // The re-run attaches the policy and creates nothing twice.
    let again = ok(&common::call(&client, "apply_fleet", json!({"manifest": text})).await);
    assert!(
        again["units"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["error"].is_null()),
        "{again:#}"
    );
    assert_eq!(account.attached_policy_count("f1-bedrock-user").await, 1);
    client.cancel().await.ok();
}

/// A manifest placing unit `mv` (a key in its secret, a budget) in `other`.
fn moved_manifest(other: &Account) -> String {
    format!(
        "[defaults]\nowner = \"o\"\npurpose = \"p\"\n\n[[unit]]\nname = \"mv\"\naccount = \"{}\"\n\
         key = {{ deliver = \"secrets_manager\" }}\n\
         budget = {{ monthly_usd = 50, emails = [\"finops@example.com\"] }}\n\n[[unit]]\nname = \"stay\"\n",
        other.id
    )
}

/// `home` with unit `mv` applied there (its user, a key in its secret, a budget), then moved by the
/// manifest to `other`, which trusts `home`: the move applied with `--prune --yes`, audited to a file.
/// Returns the apply's output and the audit file.
fn apply_moved(home: &Account, other: &Account) -> (Output, std::path::PathBuf) {
    let here = moved_manifest(other).replace(&format!("account = \"{}\"\n", other.id), "");
    let path = write(home, &here);
    let first = fleet(home, &["apply", path.to_str().unwrap()]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stdout)
    );
    write(home, &moved_manifest(other));
    let audit = std::env::temp_dir().join(format!("bp-moved-audit-{}.jsonl", home.id));
    let _ = std::fs::remove_file(&audit);
    let moved = fleet(
        home,
        &[
            "apply",
            path.to_str().unwrap(),
            "--prune",
            "--yes",
            "--output",
            "json",
            "--audit-log",
            audit.to_str().unwrap(),
        ],
    );
    (moved, audit)
}

/// Issue 21 (10): audit records carry the account. A unit moved between accounts by one apply is created
/// in one and deleted in the other: the record names the account the call ran against, and each created
/// and deleted resource by its account, so the two are not confused (before: one list each, no account).
#[tokio::test]
async fn an_apply_that_moves_a_unit_audits_each_change_with_its_account() {
    let home = Account::new();
    let other = Account::new();
    trust(&other, &home).await;
    let (moved, audit) = apply_moved(&home, &other);
    let stdout = String::from_utf8_lossy(&moved.stdout);
    assert!(
        moved.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&moved.stderr)
    );
    let report: Value = serde_json::from_slice(&moved.stdout).unwrap();
    let accounts: Vec<(&str, &str)> = report["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["business_unit"].as_str().unwrap(),
                u["account"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        accounts,
        [("mv", other.id.as_str()), ("stay", home.id.as_str())]
    );
    let record = audit_records(&audit).pop().unwrap();
    assert_eq!(record["account"], home.id, "{record:#}");
    let in_account = |id: &str| {
        record["accounts"]
            .as_array()
            .unwrap_or_else(|| panic!("{record:#}"))
            .iter()
            .find(|a| a["account"] == id)
            .unwrap_or_else(|| panic!("{id}: {record:#}"))
            .clone()
    };
    let there = in_account(&other.id);
    assert!(
        there["created"]
            .as_array()
            .unwrap()
            .contains(&json!("mv-bedrock-user")),
        "{record:#}"
    );
    assert_eq!(there["deleted"], json!([]), "{record:#}");
    let here = in_account(&home.id);
    assert!(
        here["deleted"]
            .as_array()
            .unwrap()
            .contains(&json!("mv-bedrock-user")),
        "{record:#}"
    );
    assert!(
        !here["created"]
            .as_array()
            .unwrap()
            .contains(&json!("mv-bedrock-user")),
        "{record:#}"
    );
}

/// Whether `account` has the budget `name`, read with the SDK.
async fn has_budget(account: &Account, name: &str) -> bool {
    let budgets = aws_sdk_budgets::Client::new(&account.sdk_config().await);
    match budgets
        .describe_budget()
        .account_id(&account.id)
        .budget_name(name)
        .send()
        .await
    {
        Ok(_) => true,
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_not_found_exception()) =>
        {
            false
        }
        Err(error) => panic!("DescribeBudget {name}: {error:?}"),
    }
}

/// Whether `account` has the secret `name` (not scheduled for deletion), read with the SDK.
async fn has_secret(account: &Account, name: &str) -> bool {
    let secrets = account.secrets_manager().await;
    match secrets.describe_secret().secret_id(name).send().await {
        Ok(secret) => secret.deleted_date().is_none(),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            false
        }
        Err(error) => panic!("DescribeSecret {name}: {error:?}"),
    }
}

/// Issue 21: moving a unit to another account with `--prune` removes the old account's secret (which held
/// a key the prune deleted) and budget with its user (before: both were left behind). When that removal
/// fails the user is kept, so the next run finds the unit again and finishes; afterwards a plan has
/// nothing to do.
#[tokio::test]
async fn a_prune_that_moves_a_unit_removes_its_old_secret_and_budget() {
    let home = Account::new();
    let other = Account::new();
    trust(&other, &home).await;
    let secret = "bedrock-provisioner/mv/bedrock-api-key";
    // The first removal fails at the budget (an error AWS does not retry).
    home.fault(
        json!({"action": "DeleteBudget", "kind": "error", "status": 400,
        "code": "AccessDeniedException", "message": "denied by the test"}),
    );
    let (moved, audit) = apply_moved(&home, &other);
    home.clear_faults();
    let report: Value = serde_json::from_slice(&moved.stdout).unwrap();
    assert_eq!(moved.status.code(), Some(1), "{report:#}");
    let absent = &report["absent"][0];
    assert!(
        absent["error"]
            .as_str()
            .unwrap_or_default()
            .contains("DeleteBudget"),
        "{report:#}"
    );
    assert!(
        home.user_exists("mv-bedrock-user").await,
        "kept for the next run"
    );
    assert_eq!(
        absent["deleted_with"],
        json!([secret]),
        "deleted before the budget failed"
    );

    let path = std::env::temp_dir().join(format!("bp-fleet-{}.toml", home.id));
    let file = path.to_str().unwrap();
    let again = fleet(
        &home,
        &[
            "apply",
            file,
            "--prune",
            "--yes",
            "--output",
            "json",
            "--audit-log",
            audit.to_str().unwrap(),
        ],
    );
    let report: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert!(again.status.success(), "{report:#}");
    let absent = &report["absent"][0];
    assert_eq!(absent["error"], Value::Null, "{report:#}");
    let detail = absent["detail"].as_str().unwrap();
    assert!(detail.contains("deleted bedrock-mv-monthly"), "{detail}");
    assert!(!home.user_exists("mv-bedrock-user").await);
    assert!(
        !has_secret(&home, secret).await,
        "the old account's secret is gone"
    );
    assert!(
        !has_budget(&home, "bedrock-mv-monthly").await,
        "the old account's budget is gone"
    );
    // The unit lives on in its new account, with its own secret (holding its one key) and budget.
    let keys = other.keys_in_aws("mv-bedrock-user").await;
    assert_eq!(keys.len(), 1);
    assert_eq!(
        other.secret_key_id("mv").await.as_deref(),
        Some(keys[0].0.as_str())
    );
    assert!(has_budget(&other, "bedrock-mv-monthly").await);
    // The two runs' records name every deletion in the old account.
    let records = audit_records(&audit);
    let deleted: Vec<Value> = records
        .iter()
        .flat_map(|r| r["accounts"].as_array().unwrap().clone())
        .filter(|a| a["account"] == home.id)
        .flat_map(|a| a["deleted"].as_array().unwrap().clone())
        .collect();
    for gone in ["mv-bedrock-user", secret, "bedrock-mv-monthly"] {
        assert!(deleted.contains(&json!(gone)), "{gone}: {records:#?}");
    }
    let planned = fleet(&home, &["plan", file, "--prune"]);
    assert_eq!(
        planned.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&planned.stdout)
    );
}
