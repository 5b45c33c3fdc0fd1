//! Spend control: each unit's usage within minutes (Bedrock's model invocation logs, priced with the Price
//! List), and a monthly cap per unit that denies every key of the unit once it is spent and lifts itself
//! when the next month starts.

pub mod backstop;
pub mod caps;
pub mod logging;
pub mod prices;
pub mod set_cap;
pub mod usage;
pub mod window;

use chrono::{DateTime, Utc};

use super::Provisioner;

impl Provisioner {
    /// Now, on the clock the SDK signs with (settings' `time_source`, else the system's).
    pub fn now(&self) -> DateTime<Utc> {
        let now = self
            .settings()
            .aws
            .time_source
            .as_ref()
            .map_or_else(std::time::SystemTime::now, |clock| clock.now());
        DateTime::<Utc>::from(now)
    }
}
