//! The verdict of `verify_access`: what the simulation and the key test prove together.

use super::{AccessReport, COUNT_TOKENS_ACTION, KeyOutcome, Verdict, key::KeyProof};

/// Whether the simulation denied the free key test's `bedrock:CountTokens`.
pub(super) fn count_tokens_denied(report: &AccessReport) -> bool {
    report
        .permissions
        .iter()
        .any(|c| c.action == COUNT_TOKENS_ACTION && c.decision != "allowed")
}

/// The verdict, summary and remediation from the decisions and the key test. `can_call` means the
/// simulation allowed every action a call needs and, when a key was given, a call with it was proven.
pub(super) fn conclude(report: &mut AccessReport, proof: KeyProof) {
    let denied: Vec<String> = report
        .permissions
        .iter()
        .filter(|c| c.decision != "allowed" && c.action != COUNT_TOKENS_ACTION)
        .map(|c| format!("{} on {}", c.action, c.resource))
        .collect();
    let key = report.key_test.as_ref().map(|t| t.outcome);
    let proven = match proof {
        KeyProof::NotGiven => !report.permissions.is_empty(),
        KeyProof::NotTested => false,
        KeyProof::Tested { outcome, owned } => outcome == KeyOutcome::Works && owned,
    };
    report.verdict = if !denied.is_empty() || key == Some(KeyOutcome::Refused) {
        Verdict::CannotCall
    } else if proven {
        Verdict::CanCall
    } else {
        Verdict::Unproven
    };
    if let Some(test) = report
        .key_test
        .as_ref()
        .filter(|t| t.outcome == KeyOutcome::Failed)
    {
        report.remediation.push(format!(
            "The key test did not prove the key ({}: {}). Pass invoke: true to prove it with one 1-token Converse call (a fraction of a cent).",
            test.call, test.detail
        ));
    }
    if !denied.is_empty() {
        report.remediation.insert(0, format!(
            "Denied: {}. Run provision_user for business unit `{}` to attach (or refresh) the least-privilege policy, which allows these on Anthropic models, the account's inference profiles and projects.",
            denied.join("; "),
            report.business_unit
        ));
    }
    if key == Some(KeyOutcome::Refused) {
        report.remediation.push(format!(
            "The key was refused: check it is active and unexpired with list_api_keys, or issue a new one with rotate_key for business unit `{}`.",
            report.business_unit
        ));
    }
    report.summary = summary(report, denied.len(), key == Some(KeyOutcome::Refused));
}

/// The one line to relay: the verdict in words.
fn summary(report: &AccessReport, denied: usize, refused: bool) -> String {
    match report.verdict {
        Verdict::CanCall => format!(
            "{} can call {} in {}.",
            report.business_unit, report.model_id, report.region
        ),
        Verdict::CannotCall => format!(
            "{} cannot call {} in {}: {} denied{}.",
            report.business_unit,
            report.model_id,
            report.region,
            denied,
            if refused {
                ", and the key was refused"
            } else {
                ""
            }
        ),
        Verdict::Unproven => format!(
            "Access of {} to {} in {} could not be proven: see remediation.",
            report.business_unit, report.model_id, report.region
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{BEARER_ACTION, INVOKE_ACTIONS, KeyTest, PermissionCheck};
    use super::*;

    fn report(decisions: &[(&str, &str)], test: Option<KeyOutcome>) -> AccessReport {
        AccessReport {
            business_unit: "marketing".into(),
            user_arn: "arn:aws:iam::111122223333:user/marketing-bedrock-user".into(),
            region: "us-east-1".into(),
            model_id: "m".into(),
            verdict: Verdict::Unproven,
            summary: String::new(),
            permissions: decisions
                .iter()
                .map(|(action, decision)| PermissionCheck {
                    action: (*action).into(),
                    resource: "*".into(),
                    decision: (*decision).into(),
                })
                .collect(),
            key_test: test.map(|outcome| KeyTest {
                call: "CountTokens".into(),
                outcome,
                detail: "d".into(),
                cost: "c".into(),
            }),
            remediation: Vec::new(),
            notes: Vec::new(),
        }
    }

    fn verdict(decisions: &[(&str, &str)], proof: KeyProof) -> Verdict {
        let test = match proof {
            KeyProof::Tested { outcome, .. } => Some(outcome),
            _ => None,
        };
        let mut r = report(decisions, test);
        conclude(&mut r, proof);
        r.verdict
    }

    #[test]
    fn can_call_only_when_a_given_key_was_proven() {
        let allowed = [(INVOKE_ACTIONS[0], "allowed"), (BEARER_ACTION, "allowed")];
        let tested = |outcome, owned| KeyProof::Tested { outcome, owned };
        assert_eq!(verdict(&allowed, KeyProof::NotGiven), Verdict::CanCall);
        assert_eq!(
            verdict(&allowed, tested(KeyOutcome::Works, true)),
            Verdict::CanCall
        );
        assert_eq!(
            verdict(&allowed, tested(KeyOutcome::Failed, true)),
            Verdict::Unproven,
            "a failed key test proves nothing"
        );
        assert_eq!(
            verdict(&allowed, tested(KeyOutcome::Works, false)),
            Verdict::Unproven,
            "another user's key proves that user's access"
        );
        assert_eq!(
            verdict(&allowed, tested(KeyOutcome::Refused, true)),
            Verdict::CannotCall
        );
        assert_eq!(verdict(&allowed, KeyProof::NotTested), Verdict::Unproven);
        assert_eq!(verdict(&[], KeyProof::NotGiven), Verdict::Unproven);
    }

    #[test]
    fn a_count_tokens_denial_alone_is_not_cannot_call() {
        let limited = [
            (INVOKE_ACTIONS[0], "allowed"),
            (BEARER_ACTION, "allowed"),
            (COUNT_TOKENS_ACTION, "implicitDeny"),
        ];
        assert_eq!(verdict(&limited, KeyProof::NotTested), Verdict::Unproven);
        assert_eq!(verdict(&limited, KeyProof::NotGiven), Verdict::CanCall);
    }

    #[test]
    fn a_failed_key_test_says_how_to_prove_it() {
        let mut r = report(&[(BEARER_ACTION, "allowed")], Some(KeyOutcome::Failed));
        conclude(
            &mut r,
            KeyProof::Tested {
                outcome: KeyOutcome::Failed,
                owned: true,
            },
        );
        assert!(
            r.remediation.iter().any(|f| f.contains("invoke: true")),
            "{:?}",
            r.remediation
        );
    }
}
