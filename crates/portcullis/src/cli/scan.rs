//! `portcullis vulndb …` and `portcullis scan image …`: the scanner on this machine, offline,
//! against a local advisory database file. CI jobs scan what they built before pushing it.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Subcommand, ValueEnum};
use portcullis_osv::Severity;
use portcullis_scan::{Layers, Report, image::LayerRef};
use portcullis_vulndb::VulnDb;

/// The database file `serve` keeps under its data directory, and these commands default to
const DEFAULT_DB: &str = "portcullis-data/vulndb/vulndb.redb";

/// The advisory database
#[derive(Debug, Subcommand)]
pub(crate) enum VulndbCommand {
    /// Import OSV records from directories, `.json` files, `.tar.gz` and `.zip` archives
    Import {
        /// What to import
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// The database file (a running server's is under its data directory)
        #[arg(long, env = "PORTCULLIS_VULNDB", default_value = DEFAULT_DB)]
        db: PathBuf,
    },
    /// What the database holds: its age and per-ecosystem counts
    Status {
        /// The database file
        #[arg(long, env = "PORTCULLIS_VULNDB", default_value = DEFAULT_DB)]
        db: PathBuf,
    },
}

/// Scanning
#[derive(Debug, Subcommand)]
pub(crate) enum ScanCommand {
    /// Scan an image: `oci:DIR[:TAG]` (an OCI layout), `docker-archive:FILE` (`docker save`),
    /// a path to either, or `[docker://]HOST/REPOSITORY[:TAG|@DIGEST]` in a registry
    Image(ImageArgs),
}

/// How to print a report
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum Format {
    /// A table, most severe first
    Table,
    /// The report as JSON
    Json,
    /// SARIF 2.1.0, for code-scanning dashboards
    Sarif,
}

/// A severity for `--fail-on`
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum Threshold {
    /// Any finding rated LOW or above
    Low,
    /// MEDIUM or above
    Medium,
    /// HIGH or above
    High,
    /// CRITICAL only
    Critical,
}

/// `scan image`
#[derive(Debug, clap::Args)]
pub(crate) struct ImageArgs {
    /// The image
    reference: String,
    /// The advisory database file
    #[arg(long, env = "PORTCULLIS_VULNDB", default_value = DEFAULT_DB)]
    db: PathBuf,
    /// Output format
    #[arg(long, short = 'o', value_enum, default_value = "table")]
    output: Format,
    /// Exit with status 3 when a finding is at or above this severity
    #[arg(long, value_enum)]
    fail_on: Option<Threshold>,
    /// Registry credentials, `USER:PASSWORD` (for Portcullis: `<tenancy>/<user>:<auth token>`);
    /// sent only to the registry's own HTTPS token endpoint
    #[arg(long)]
    creds: Option<String>,
    /// Accepted risks: a YAML or JSON file of `entries` with `id`, `expires`, `author`,
    /// `reason` (and optionally `package`); covered findings are reported apart and do not
    /// fail `--fail-on`, expired entries stop applying and are reported
    #[arg(long)]
    allowlist: Option<PathBuf>,
    /// Check the registry's certificate (`--tls-verify=false` to skip, as skopeo spells it)
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    tls_verify: bool,
}

/// Runs `vulndb …`
pub(crate) fn run_vulndb(command: VulndbCommand) -> anyhow::Result<i32> {
    match command {
        VulndbCommand::Import { paths, db } => {
            let db = open(&db)?;
            let started = std::time::Instant::now();
            let paths: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
            let report = db.import(&paths)?;
            eprintln!(
                "imported in {:.1} s: {} read, {} added, {} replaced, {} unchanged, {} withdrawn, {} skipped",
                started.elapsed().as_secs_f64(),
                report.read,
                report.added,
                report.replaced,
                report.unchanged,
                report.withdrawn,
                report.skipped
            );
            for problem in &report.problems {
                eprintln!("skipped {problem}");
            }
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({ "data": report }))?
            );
            Ok(0)
        }
        VulndbCommand::Status { db } => {
            let status = open(&db)?.status()?;
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({ "data": status }))?
            );
            Ok(0)
        }
    }
}

fn open(db: &Path) -> anyhow::Result<VulnDb> {
    VulnDb::open(db).with_context(|| {
        format!("opening the advisory database {} (a running server keeps its own open; stop it or use another file)", db.display())
    })
}

/// Runs `scan …`
pub(crate) fn run_scan(command: ScanCommand, cert_bundle: Option<&Path>) -> anyhow::Result<i32> {
    let ScanCommand::Image(args) = command;
    let pulled = tempfile_dir()?;
    let layers = match super::pull::ImageName::parse(&args.reference) {
        Some(name) if !Path::new(&args.reference).exists() => {
            tokio::runtime::Handle::current().block_on(super::pull::pull(
                &name,
                args.creds.as_deref(),
                cert_bundle,
                args.tls_verify,
                pulled.path(),
            ))?;
            portcullis_scan::image::oci_layout(pulled.path(), None)?
        }
        _ => resolve(&args.reference)?,
    };
    // A mistyped --db must not pass a CI gate with an empty database.
    if !args.db.is_file() {
        anyhow::bail!(
            "no advisory database at {}; import advisories with `portcullis vulndb import PATH --db {}`",
            args.db.display(),
            args.db.display()
        );
    }
    let db = open(&args.db)?;
    if db.status()?.records == 0 {
        if args.fail_on.is_some() {
            anyhow::bail!(
                "the advisory database {} is empty: --fail-on cannot pass",
                args.db.display()
            );
        }
        eprintln!(
            "warning: the advisory database {} is empty; import advisories with `portcullis vulndb import`",
            args.db.display()
        );
    }
    let allowlist = match &args.allowlist {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let list: portcullis_scan::allowlist::Allowlist = serde_saphyr::from_str(&text)
                .with_context(|| format!("{}: not an allowlist", path.display()))?;
            list.validate()
                .with_context(|| path.display().to_string())?;
            Some(list)
        }
        None => None,
    };
    let mut report = scan(&layers)
        .and_then(|inventory| Ok(portcullis_scan::match_inventory(&inventory, &db)?))?;
    if let Some(list) = &allowlist {
        list.apply(&mut report, jiff::Timestamp::now());
    }
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    match args.output {
        Format::Table => print_table(&report),
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        Format::Sarif => println!(
            "{}",
            serde_json::to_string_pretty(&portcullis_scan::sarif::to_sarif(
                &report,
                &args.reference
            ))?
        ),
    }
    let threshold = args.fail_on.map(|t| match t {
        Threshold::Low => Severity::Low,
        Threshold::Medium => Severity::Medium,
        Threshold::High => Severity::High,
        Threshold::Critical => Severity::Critical,
    });
    Ok(match threshold {
        Some(threshold) if report.findings.iter().any(|f| f.severity >= threshold) => 3,
        _ => 0,
    })
}

/// Where a pulled image is kept while it is scanned (removed on drop)
fn tempfile_dir() -> anyhow::Result<tempfile::TempDir> {
    Ok(tempfile::Builder::new()
        .prefix("portcullis-scan-")
        .tempdir()?)
}

/// The layers of a local image reference
fn resolve(reference: &str) -> anyhow::Result<Vec<LayerRef>> {
    if let Some(rest) = reference.strip_prefix("oci:") {
        // `oci:DIR:TAG`, where DIR itself has no colon (as skopeo reads it).
        let (dir, tag) = match rest.rsplit_once(':') {
            Some((dir, tag)) if !tag.contains('/') => (dir, Some(tag)),
            _ => (rest, None),
        };
        return Ok(portcullis_scan::image::oci_layout(Path::new(dir), tag)?);
    }
    if let Some(file) = reference.strip_prefix("docker-archive:") {
        return Ok(portcullis_scan::image::docker_archive(Path::new(file))?);
    }
    let path = Path::new(reference);
    if path.join("index.json").is_file() {
        return Ok(portcullis_scan::image::oci_layout(path, None)?);
    }
    if path.is_file() {
        return Ok(portcullis_scan::image::docker_archive(path)?);
    }
    anyhow::bail!(
        "{reference:?} is not an OCI layout directory or a docker save archive (use oci:DIR[:TAG] or docker-archive:FILE)"
    )
}

/// Applies every layer, with a progress bar on a terminal
fn scan(layers: &[LayerRef]) -> anyhow::Result<portcullis_scan::Inventory> {
    let total: u64 = layers.iter().map(|l| l.size).sum();
    let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        indicatif::ProgressBar::new(total)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg:20} [{bar:30}] {bytes}/{total_bytes} ({eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut stack = Layers::new();
    for layer in layers {
        bar.set_message(short(&layer.digest));
        let reader = layer.open()?;
        stack.apply(&layer.digest, bar.wrap_read(reader));
    }
    bar.finish_and_clear();
    Ok(stack.inventory())
}

fn short(digest: &str) -> String {
    let hex = digest.rsplit(':').next().unwrap_or(digest);
    format!("layer {}", hex.chars().take(12).collect::<String>())
}

fn print_table(report: &Report) {
    println!(
        "{} — {} packages, {} findings, highest {}",
        report.os.as_deref().unwrap_or("no OS found"),
        report.packages,
        report.findings.len(),
        report.highest().as_str()
    );
    if !report.suppressed.is_empty() {
        println!(
            "{} findings accepted by the allowlist (see -o json)",
            report.suppressed.len()
        );
    }
    if report.findings.is_empty() {
        return;
    }
    println!(
        "{:<9} {:<22} {:<28} {:<20} {:<20} PATH",
        "SEVERITY", "ADVISORY", "PACKAGE", "VERSION", "FIXED IN"
    );
    for f in &report.findings {
        let id = f
            .cves
            .first()
            .filter(|_| f.id.starts_with("DEBIAN-") || f.id.starts_with("ALPINE-"))
            .unwrap_or(&f.id);
        println!(
            "{:<9} {:<22} {:<28} {:<20} {:<20} {}",
            f.severity.as_str(),
            id,
            f.package,
            f.version,
            f.fixed_version.as_deref().unwrap_or("-"),
            f.path
        );
    }
}
