//! `portcullis`: OKE's security model for any Kubernetes cluster, in one binary.
//!
//! `portcullis serve` runs the server; every other command is a client of its OCI-shaped API,
//! named like the `oci` CLI's commands.

use clap::{Parser, Subcommand};

mod cli;
mod serve;

/// OKE's security model (IAM, cluster access, secrets, image security) for any Kubernetes cluster
#[derive(Debug, Parser)]
#[command(name = "portcullis", version, about)]
struct Cli {
    #[command(flatten)]
    global: cli::client::GlobalOptions,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (HTTPS; embedded store by default)
    Serve(serve::ServeArgs),
    /// Identity and access management, as `oci iam`
    Iam {
        #[command(subcommand)]
        command: cli::iam::IamCommand,
    },
    /// Container Engine: clusters, kubeconfigs, tokens, as `oci ce`
    Ce {
        #[command(subcommand)]
        command: cli::ce::CeCommand,
    },
    /// Vault key management and crypto, as `oci kms`
    Kms {
        #[command(subcommand)]
        command: cli::kms::KmsCommand,
    },
    /// Vault secrets, as `oci vault`
    Vault {
        #[command(subcommand)]
        command: cli::kms::VaultSecretsCommand,
    },
    /// Secret contents, as `oci secrets`
    Secrets {
        #[command(subcommand)]
        command: cli::kms::SecretsCommand,
    },
    /// Container repositories and images, as `oci artifacts`
    Artifacts {
        #[command(subcommand)]
        command: cli::artifacts::ArtifactsCommand,
    },
    /// The registry's image scanning: recipes, targets, results, as `oci vulnerability-scanning`
    VulnerabilityScanning {
        #[command(subcommand)]
        command: cli::vss::VulnerabilityScanningCommand,
    },
    /// The advisory database the scanner matches against (offline OSV data)
    Vulndb {
        #[command(subcommand)]
        command: cli::scan::VulndbCommand,
    },
    /// Scan images for known vulnerabilities on this machine
    Scan {
        #[command(subcommand)]
        command: cli::scan::ScanCommand,
    },
    /// Serve the KMS v2 plugin an attached kube-apiserver encrypts its Secrets with
    KmsPlugin(cli::plugins::KmsPluginArgs),
    /// Serve the Secrets Store CSI driver provider that mounts vault secrets into pods
    CsiProvider(cli::plugins::CsiProviderArgs),
}

fn init_logging(serving: bool) {
    use tracing_subscriber::EnvFilter;
    let default = if serving { "info" } else { "warn" };
    let filter =
        EnvFilter::try_from_env("PORTCULLIS_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let json = std::env::var("PORTCULLIS_LOG_FORMAT").is_ok_and(|f| f == "json");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging(matches!(
        cli.command,
        Command::Serve(_) | Command::KmsPlugin(_) | Command::CsiProvider(_)
    ));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("Error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve::run(args).await.map(|()| 0),
            Command::Iam { command } => {
                let client = cli::client::Client::new(&cli.global)?;
                cli::iam::run(&client, command).await
            }
            Command::Ce { command } => cli::ce::run(&cli.global, command).await,
            Command::Kms { command } => {
                let client = cli::client::Client::new(&cli.global)?;
                cli::kms::run(&client, command).await
            }
            Command::Vault { command } => {
                let client = cli::client::Client::new(&cli.global)?;
                cli::kms::run_vault(&client, command).await
            }
            Command::Secrets { command } => {
                let client = cli::client::Client::new(&cli.global)?;
                cli::kms::run_secrets(&client, command).await
            }
            Command::Artifacts { command } => {
                let client = cli::client::Client::new(&cli.global)?;
                cli::artifacts::run(&client, command).await
            }
            Command::VulnerabilityScanning { command } => {
                let client = cli::client::Client::new(&cli.global)?;
                cli::vss::run(&client, command).await
            }
            Command::Vulndb { command } => {
                tokio::task::block_in_place(|| cli::scan::run_vulndb(command))
            }
            Command::Scan { command } => tokio::task::block_in_place(|| {
                cli::scan::run_scan(command, cli.global.cert_bundle.as_deref())
            }),
            Command::KmsPlugin(args) => cli::plugins::kms_plugin(args).await,
            Command::CsiProvider(args) => cli::plugins::csi_provider(args).await,
        }
    });
    match result {
        Ok(0) => std::process::ExitCode::SUCCESS,
        Ok(code) => std::process::ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(e) => {
            eprintln!("Error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
