//! A fleet unit's key: `apply` gives a unit without a working key one, delivered where the manifest says
//! (Secrets Manager or a file, never inline). Keys that are due are the sweep's, not apply's: apply only
//! makes sure each unit has a key that works.

use super::{Changes, manifest::KeySpec};
use crate::core::{Provisioner, domain::error::Result, domain::names::BusinessUnit};

impl Provisioner {
    /// The key change of `unit` (none when it has an active key): planned, or made when `apply` (decided
    /// under the unit's key lease, see `ensure_api_key`; `keyless`: its user was just created).
    pub(super) async fn unit_key(
        &self,
        unit: &str,
        key: KeySpec,
        apply: bool,
        keyless: bool,
    ) -> Result<Changes> {
        let deliver = <&str>::from(key.deliver);
        if !apply {
            let user_name = BusinessUnit::parse("business_unit", unit)?.user_name();
            let keys = self.unit_key_summaries(unit, &user_name).await?;
            if keys.iter().any(|k| k.status == "Active") {
                return Ok(Changes::default());
            }
            return Ok(Changes {
                lines: vec![format!("api key: create one, delivered to {deliver}")],
                created: Vec::new(),
            });
        }
        let unit = BusinessUnit::parse("business_unit", unit)?;
        let created = self.ensure_api_key(&unit, key.deliver, keyless).await?;
        let Some(id) = created.and_then(|created| created.credential_id) else {
            return Ok(Changes::default());
        };
        Ok(Changes {
            lines: vec![format!("api key {id}: created, delivered to {deliver}")],
            created: vec![id],
        })
    }
}
