//! The Vulnerability Scanning service as OCI shapes it (`/20210215`): container scan recipes,
//! targets and results, and the decisions between scans, kept free of I/O so they can be
//! tested on their own:
//!
//! - a scan's findings become one problem per vulnerability, carrying forward when it was
//!   first seen and turning `FIXED` when a later scan no longer finds it (`history`);
//! - adding a scanner scans the most recently pushed images first (OCIR: four);
//! - each image keeps one result per scan for 13 months.
//!
//! The registry-side queue and API that use these live at the edges.

pub mod history;
pub mod model;

pub use history::{
    INITIAL_IMAGES, RETENTION_MONTHS, initial_images, next_problems, pruned, summarize,
};
pub use model::{
    ContainerScanRecipe, ContainerScanResult, ContainerScanResultSummary, ContainerScanTarget,
    Problem, ProblemState, ScanLevel, ScanSettings, TargetRegistry, VulnerablePackage,
};
