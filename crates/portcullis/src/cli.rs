//! The command-line client, shaped like `oci`: same command names, option names, config file
//! and output.

pub(crate) mod artifacts;
pub(crate) mod ce;
pub(crate) mod client;
pub(crate) mod config;
pub(crate) mod iam;
pub(crate) mod kms;
pub(crate) mod output;
pub(crate) mod plugins;
pub(crate) mod pull;
pub(crate) mod scan;
pub(crate) mod signatures;
pub(crate) mod vss;
