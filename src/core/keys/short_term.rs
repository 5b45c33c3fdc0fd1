//! Short-term Bedrock API keys: a SigV4 presigned `CallWithBearerToken` request, encoded exactly as the
//! `aws-bedrock-token-generator` package encodes it, signed locally with the server's own credentials.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::{
    http_request::{
        PayloadChecksumKind, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
        sign,
    },
    sign::v4,
};
use base64::{Engine, engine::general_purpose::STANDARD};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::core::{
    domain::error::{Error, Result},
    domain::secret::Secret,
};

/// Prefix of every short-term key.
pub const SHORT_TERM_PREFIX: &str = "bedrock-api-key-";
/// The host a short-term key is presigned for (whatever the region).
pub const TOKEN_HOST: &str = "bedrock.amazonaws.com";
/// Longest lifetime of a short-term key, in seconds (12 hours).
pub const MAX_DURATION_SECONDS: u32 = 43_200;

/// The query parameters of the presigned URL, in the order the Python package writes them.
const QUERY_ORDER: [&str; 7] = [
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Security-Token",
    "X-Amz-Signature",
];

/// SigV4's URI encoding: everything but `A-Z a-z 0-9 - _ . ~`.
const URI_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Sign a short-term key valid for `duration` in `region`, as of `now`.
pub fn generate(
    credentials: &Credentials,
    region: &str,
    duration: Duration,
    now: SystemTime,
) -> Result<Secret> {
    let identity = credentials.clone().into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(duration);
    settings.payload_checksum_kind = PayloadChecksumKind::NoHeader;
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("bedrock")
        .time(now)
        .settings(settings)
        .build()
        .map_err(|e| signing_error(&e))?;
    let url = format!("https://{TOKEN_HOST}/?Action=CallWithBearerToken");
    let request = SignableRequest::new(
        "POST",
        url.as_str(),
        [("host", TOKEN_HOST)].into_iter(),
        SignableBody::Bytes(b""),
    )
    .map_err(|e| signing_error(&e))?;
    let (_, query) = sign(request, &params.into())
        .map_err(|e| signing_error(&e))?
        .into_parts()
        .0
        .into_parts();
    let mut presigned = format!("{TOKEN_HOST}/?Action=CallWithBearerToken");
    for name in QUERY_ORDER {
        if let Some((_, value)) = query.iter().find(|(key, _)| *key == name) {
            presigned.push('&');
            presigned.push_str(name);
            presigned.push('=');
            presigned.extend(utf8_percent_encode(value, URI_ENCODE));
        }
    }
    presigned.push_str("&Version=1");
    Ok(Secret::new(format!(
        "{SHORT_TERM_PREFIX}{}",
        STANDARD.encode(presigned)
    )))
}

fn signing_error(error: &dyn std::fmt::Display) -> Error {
    Error::Credentials {
        detail: format!("could not sign a short-term Bedrock API key: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_matches_the_python_package_for_static_credentials() {
        // The oracle value comes from aws-bedrock-token-generator 1.1.0 (tests/emulator/bpemu/token_oracle.py);
        // tests/short_term_keys.rs checks more cases against the live package.
        let credentials = Credentials::new(
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            None,
            None,
            "test",
        );
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600);
        let token = generate(&credentials, "us-west-2", Duration::from_secs(43_200), now).unwrap();
        let decoded = String::from_utf8(
            STANDARD
                .decode(&token.expose()[SHORT_TERM_PREFIX.len()..])
                .unwrap(),
        )
        .unwrap();
        assert!(decoded.ends_with(
            "X-Amz-Signature=7c4e98e2b0e420e9dd0d55de0279be990ed794267d917566bb81b99b01276983&Version=1"
        ));
    }
}
