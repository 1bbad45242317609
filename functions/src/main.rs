//! `batchbook`: the whole product in one process on the embedded adapters.

#![recursion_limit = "256"]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use domain::values::OrganisationId;
use functions::api::{router, ApiState};
use functions::identity::IdentitySource;
use infra::embedded::{EmbeddedConfig, EmbeddedStack};
use infra::simulators::ProviderSimulatorSettings;

#[derive(Parser)]
#[command(
    name = "batchbook",
    version,
    about = "Batch messages and self-booking for GP practices, on the embedded stack"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP API, queue workers, timers and projector in one process.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
        /// Where every database and file is kept.
        #[arg(long, default_value = "batchbook-data")]
        data: PathBuf,
        /// The organisation (ODS code) a request without a development token acts for.
        #[arg(long, default_value = "A12345")]
        dev_org: String,
        /// Refuse a request without a development token (401), as the
        /// deployed stack refuses one without a sign-in.
        #[arg(long)]
        require_sign_in: bool,
        /// Make the simulated SMS provider take this long per message.
        #[arg(long, default_value_t = 0)]
        sms_delay_ms: u64,
        /// Where patients' links point: the patient-facing link page. By
        /// default this server's own patient pages, `/l`.
        #[arg(long, env = "BATCHBOOK_LINK_BASE_URL")]
        link_base_url: Option<String>,
    },
    /// Generate a synthetic SystmOne list, send it as an SMS batch and wait until it is Saved.
    Demo {
        #[arg(long, default_value_t = 1_000)]
        patients: usize,
        #[arg(long, default_value = "batchbook-data")]
        data: PathBuf,
    },
    /// Drop the read models and rebuild them from the event log.
    RebuildViews {
        #[arg(long, default_value = "batchbook-data")]
        data: PathBuf,
    },
    /// What auditors run: verify the event history.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Patient lists.
    Lists {
        #[command(subcommand)]
        command: ListsCommand,
    },
}

/// Where the history is, whose it is, and who is reading it.
#[derive(clap::Args)]
struct AuditorArgs {
    #[arg(long, default_value = "batchbook-data")]
    data: PathBuf,
    /// Read a deployed stack instead: its tables and buckets from
    /// EVENTS_TABLE, VIEWS_TABLE, BUCKET and CHAIN_CHECKPOINT_BUCKET (the
    /// stack's outputs), with the auditor's credentials from the usual AWS
    /// environment. Needs a batchbook built with `--features aws`.
    #[arg(long, conflicts_with = "data")]
    aws: bool,
    /// The organisation (ODS code) whose history this is.
    #[arg(long, default_value = "A12345")]
    org: String,
    /// Who is reading it: the auditor's user id, recorded with the export.
    #[arg(long = "as", value_name = "AUDITOR")]
    auditor: String,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Every event of one batch, invite, conversation, user or patient, in
    /// commit order, as JSON Lines or CSV on stdout. The export is recorded as an
    /// event with the auditor who made it.
    #[command(group(clap::ArgGroup::new("subject").required(true).multiple(false)))]
    History {
        #[command(flatten)]
        who: AuditorArgs,
        #[arg(long, group = "subject")]
        batch: Option<String>,
        /// A Self-Book invite, `<batch id>:<row>`.
        #[arg(long, group = "subject")]
        invite: Option<String>,
        #[arg(long, group = "subject")]
        conversation: Option<String>,
        /// A user id: every event they caused.
        #[arg(long, group = "subject")]
        user: Option<String>,
        /// A patient's NHS number: every batch that sent to them, their
        /// conversations and every search for them.
        #[arg(long, group = "subject", value_name = "NHS_NUMBER")]
        patient: Option<String>,
        /// Events at or after this time (RFC 3339).
        #[arg(long)]
        from: Option<chrono::DateTime<chrono::Utc>>,
        /// Events before this time (RFC 3339).
        #[arg(long)]
        to: Option<chrono::DateTime<chrono::Utc>>,
        #[arg(long, value_enum, default_value = "jsonl")]
        format: functions::audit::HistoryFormat,
        /// Join each delivery's and invite's patient from the list artifact.
        #[arg(long)]
        patient_details: bool,
    },
    /// Everything held about one patient (a subject access request): who
    /// the lists said they were, each batch message and what happened to
    /// it, each conversation and reply, each search for them. HTML (or
    /// JSON) on stdout; recorded as an export.
    SubjectAccess {
        #[command(flatten)]
        who: AuditorArgs,
        #[arg(long, value_name = "NHS_NUMBER")]
        patient: String,
        #[arg(long, value_enum, default_value = "html")]
        format: functions::audit::AccessFormat,
    },
    /// Check that no event was changed, deleted, inserted or reordered
    /// (against the chain's checkpoints), and that every read model
    /// follows from the events. Reads the data directory only; exits 1
    /// when anything differs.
    Verify {
        #[arg(long, default_value = "batchbook-data")]
        data: PathBuf,
        /// Check a deployed stack's event chains instead (see `history --aws`).
        #[arg(long, conflicts_with = "data")]
        aws: bool,
        #[arg(long, value_enum, default_value = "text")]
        format: functions::audit::ReportFormat,
    },
}

#[derive(Subcommand)]
enum ListsCommand {
    /// Check an exported list offline: one result per patient row on
    /// stdout, a summary on stderr. Exits 0 when the file was usable.
    Check {
        file: PathBuf,
        /// The clinical system that exported it; detected from the headers when absent.
        #[arg(long, value_enum)]
        system: Option<functions::lists_cli::System>,
        #[arg(long, value_enum, default_value = "jsonl")]
        format: functions::lists_cli::Format,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    functions::telemetry::init(false);
    let result = match cli.command {
        Command::Serve {
            addr,
            data,
            dev_org,
            require_sign_in,
            sms_delay_ms,
            link_base_url,
        } => {
            let dev_org = (!require_sign_in).then_some(dev_org);
            serve(addr, data, dev_org, sms_delay_ms, link_base_url).await
        }
        Command::Demo { patients, data } => demo(data, patients).await,
        Command::RebuildViews { data } => rebuild(data).await,
        Command::Audit {
            command:
                AuditCommand::History {
                    who:
                        AuditorArgs {
                            data,
                            aws,
                            org,
                            auditor,
                        },
                    batch,
                    invite,
                    conversation,
                    user,
                    patient,
                    from,
                    to,
                    format,
                    patient_details,
                },
        } => {
            use domain::ports::HistorySubject;
            // clap's group lets exactly one through.
            let subject = batch
                .map(HistorySubject::Batch)
                .or(invite.map(HistorySubject::Invite))
                .or(conversation.map(HistorySubject::Conversation))
                .or(user.map(HistorySubject::User));
            let subject = match (subject, patient) {
                (Some(subject), _) => subject,
                (None, Some(nhs_number)) => match domain::values::NhsNumber::parse(&nhs_number) {
                    Ok(nhs_number) => HistorySubject::Patient(nhs_number),
                    Err(e) => {
                        eprintln!("batchbook: --patient: {e}");
                        return ExitCode::FAILURE;
                    }
                },
                (None, None) => {
                    eprintln!("batchbook: name one of --batch, --invite, --conversation, --user or --patient");
                    return ExitCode::FAILURE;
                }
            };
            let request = domain::usecases::audit::HistoryRequest {
                subject,
                from,
                to,
                patient_details,
            };
            match Source::open(data, aws).await {
                Err(e) => Err(e),
                Ok(source) => {
                    let mut out = std::io::stdout().lock();
                    functions::audit::history(
                        source.store(),
                        &org,
                        &auditor,
                        &request,
                        format,
                        &mut out,
                    )
                    .await
                    .map(|(export_id, events)| {
                        eprintln!(
                            "Exported {events} events; the export is recorded as {export_id}."
                        );
                    })
                }
            }
        }
        Command::Audit {
            command:
                AuditCommand::SubjectAccess {
                    who:
                        AuditorArgs {
                            data,
                            aws,
                            org,
                            auditor,
                        },
                    patient,
                    format,
                },
        } => match domain::values::NhsNumber::parse(&patient) {
            Err(e) => Err(format!("--patient: {e}").into()),
            Ok(nhs_number) => match Source::open(data, aws).await {
                Err(e) => Err(e),
                Ok(source) => {
                    let mut out = std::io::stdout().lock();
                    functions::audit::subject_access(
                        source.store(),
                        &org,
                        &auditor,
                        &nhs_number,
                        format,
                        &mut out,
                    )
                    .await
                    .map(|export_id| {
                        eprintln!("Answered; recorded as export {export_id}.");
                    })
                }
            },
        },
        Command::Audit {
            command: AuditCommand::Verify { data, aws, format },
        } => match Source::open(data, aws).await {
            Err(e) => Err(e),
            Ok(source) => {
                let mut out = std::io::stdout().lock();
                match functions::audit::verify(source.store(), format, &mut out).await {
                    Ok(true) => Ok(()),
                    Ok(false) => return ExitCode::FAILURE,
                    Err(e) => Err(e),
                }
            }
        },
        Command::Lists {
            command:
                ListsCommand::Check {
                    file,
                    system,
                    format,
                },
        } => functions::lists_cli::check(&file, system, format).map_err(Into::into),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("batchbook: {e}");
            ExitCode::FAILURE
        }
    }
}

type AnyError = Box<dyn std::error::Error>;

/// What `batchbook audit` reads: the data directory, or with `--aws` a
/// deployed stack.
enum Source {
    Data(PathBuf),
    #[cfg(feature = "aws")]
    Aws(Box<infra::aws::AwsStack>),
}

impl Source {
    async fn open(data: PathBuf, aws: bool) -> Result<Self, AnyError> {
        if !aws {
            return Ok(Self::Data(data));
        }
        #[cfg(feature = "aws")]
        {
            let settings = infra::aws::AwsSettings::for_auditor()?;
            let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
            Ok(Self::Aws(Box::new(infra::aws::AwsStack::new(
                &sdk,
                &settings,
                std::sync::Arc::new(domain::ports::SystemClock),
            ))))
        }
        #[cfg(not(feature = "aws"))]
        Err("--aws: this batchbook was built without AWS; build it with `cargo build --release --features aws --bin batchbook`".into())
    }

    fn store(&self) -> functions::audit::Store<'_> {
        match self {
            Self::Data(data) => functions::audit::Store::Data(data),
            #[cfg(feature = "aws")]
            Self::Aws(stack) => functions::audit::Store::Aws(stack),
        }
    }
}

async fn serve(
    addr: SocketAddr,
    data: PathBuf,
    dev_org: Option<String>,
    sms_delay_ms: u64,
    link_base_url: Option<String>,
) -> Result<(), AnyError> {
    let default_organisation = dev_org
        .map(|org| OrganisationId::parse(&org).map_err(|e| format!("--dev-org: {e}")))
        .transpose()?;
    let mut config = EmbeddedConfig::new(&data);
    config.link_base_url = link_base_url.unwrap_or_else(|| format!("http://{addr}/l"));
    config.providers = ProviderSimulatorSettings {
        delay: Duration::from_millis(sms_delay_ms),
        // Receipts come a few seconds after sending, as from a real network.
        receipt_delay: chrono::Duration::seconds(3),
        ..Default::default()
    };
    let stack = std::sync::Arc::new(EmbeddedStack::open(config).await?);
    let app = router(ApiState {
        app: stack.app.clone(),
        identity: IdentitySource::Development {
            default_organisation,
        },
        outbox: Some(stack.providers.clone()),
        callbacks: functions::config::ApiConfig::from_env().callbacks,
    });
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    println!(
        "Batchbook is listening on http://{local} (data in {})",
        data.display()
    );
    println!("  API description: http://{local}/openapi.json");
    println!("  Simulated provider outbox (SMS, email, NHS App): http://{local}/v1/dev/sms-outbox");

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let background = {
        let stack = stack.clone();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            stack
                .run(async move {
                    let _ = stop.changed().await;
                })
                .await
        })
    };
    let mut stop = stop_rx;
    axum::serve(functions::api::without_delay(listener), app)
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            let _ = stop_tx.send(true);
            let _ = stop.changed().await;
        })
        .await?;
    background.await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

async fn demo(data: PathBuf, patients: usize) -> Result<(), AnyError> {
    println!(
        "Sending a batch to {patients} synthetic patients (data in {})…",
        data.display()
    );
    let report = functions::demo::run(&data, patients).await?;
    println!();
    println!("Batch {}", report.batch_id);
    println!("  Status:               {}", report.status);
    println!("  Patient list:         {}", report.patient_list);
    println!("  Recipients:           {}", report.recipients);
    println!("  Delivered:            {}", report.delivered);
    println!("  Without valid mobile: {}", report.without_valid_mobile);
    println!("  Failed to deliver:    {}", report.failed_to_deliver);
    println!(
        "  Elapsed:              {:.2} s",
        report.elapsed.as_secs_f64()
    );
    println!();
    println!(
        "  SMS outbox ({} messages): {}",
        report.outbox_messages,
        data.join("simulators.sqlite").display()
    );
    println!(
        "    (or run `batchbook serve --data {}` and open /v1/dev/sms-outbox)",
        data.display()
    );
    println!("  Reports: {}", data.join("reports").display());
    if report.status != "Saved" {
        return Err(format!("the batch ended {}, not Saved", report.status).into());
    }
    Ok(())
}

async fn rebuild(data: PathBuf) -> Result<(), AnyError> {
    let stack = EmbeddedStack::open(EmbeddedConfig::new(&data)).await?;
    stack.rebuild_views().await?;
    println!(
        "Read models rebuilt from the event log in {}",
        data.display()
    );
    Ok(())
}
