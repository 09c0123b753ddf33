//! OSV advisories as pure logic: the part of the OSV schema a scanner reads, which versions
//! a record's ranges cover in its ecosystem's own order, and the severity of a finding.
//! No I/O: the advisory database and the scanner sit at the edges and call in here.

pub mod ecosystem;
pub mod matching;
pub mod record;
pub mod severity;

pub use ecosystem::{EcosystemKey, normalize_name, os_ecosystem};
pub use matching::{MatchError, affects, fixed_in};
pub use record::{Affected, Event, OsvError, Package, Range, RangeKind, Record, Reference, Score};
pub use severity::{Rated, Severity, rate};
