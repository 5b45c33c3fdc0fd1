//! Cost allocation tag keys: which key carries business units, and which keys carry a tag (the plain
//! key, or an IAM-principal form such as `iamPrincipal/business-unit`).

/// The plain tag key carrying business units.
pub const BUSINESS_UNIT_TAG: &str = "business-unit";

/// Whether a cost allocation tag key carries the tag `tag`: the plain key, or an IAM-principal form
/// such as `iamPrincipal/<tag>`.
pub fn carries_tag(key: &str, tag: &str) -> bool {
    key == tag
        || key
            .strip_suffix(tag)
            .is_some_and(|prefix| prefix.ends_with('/'))
}

/// Whether a cost allocation tag key is an IAM-principal form of the business-unit tag
/// (`iamPrincipal/business-unit`), which counts a unit's calls whatever the model.
pub fn is_principal_tag(tag_key: &str) -> bool {
    tag_key != BUSINESS_UNIT_TAG && carries_tag(tag_key, BUSINESS_UNIT_TAG)
}
