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
