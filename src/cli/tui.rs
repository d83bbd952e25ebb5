//! `pessimist [tui]`: the dashboard, interactive or `--headless`.

use super::TuiArgs;
use anyhow::{Context, bail};
use pessimist::experiment::SessionOptions;
use pessimist::tui::{Dashboard, app, headless, terminal};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// The largest `--size` a headless frame may have.
const MAX_SIZE: (u16, u16) = (1000, 1000);

fn parse_size(text: &str) -> anyhow::Result<(u16, u16)> {
    let (w, h) = text
        .split_once(['x', 'X'])
        .with_context(|| format!("--size `{text}`: expected WIDTHxHEIGHT, e.g. 120x40"))?;
    let w: u16 = w
        .parse()
        .with_context(|| format!("--size `{text}`: bad width"))?;
    let h: u16 = h
        .parse()
        .with_context(|| format!("--size `{text}`: bad height"))?;
    if w < 20 || h < 8 {
        bail!("--size `{text}`: at least 20x8");
    }
    // A frame is a buffer of w·h cells: 65535x65535 would be 4·10⁹ of them.
    if w > MAX_SIZE.0 || h > MAX_SIZE.1 {
        bail!(
            "--size `{text}`: at most {}x{} (a frame is a buffer of width × height cells)",
            MAX_SIZE.0,
            MAX_SIZE.1
        );
    }
    Ok((w, h))
}

pub fn run(args: &TuiArgs) -> anyhow::Result<ExitCode> {
    let experiments_dir = args.experiments_dir.clone();
    if !experiments_dir.is_dir() {
        bail!(
            "{}: no experiments directory (create it and put spec files, *.toml, in it)",
            experiments_dir.display()
        );
    }
    let runs_dir = args.runs.clone().unwrap_or_else(|| {
        experiments_dir
            .canonicalize()
            .ok()
            .and_then(|p| p.parent().map(|d| d.join("runs")))
            .unwrap_or_else(|| PathBuf::from("runs"))
    });
    let options = SessionOptions {
        experiments_dir,
        runs_dir: runs_dir.clone(),
        jobs: super::jobs_or_cores(args.jobs),
        poll: args.poll,
        // Headless frames are for looking: training is asked for.
        autostart: !args.no_autostart && (args.train || !args.headless),
    };
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    if args.headless {
        let size = parse_size(&args.size)?;
        let keys =
            app::parse_keys(args.keys.as_deref().unwrap_or("")).map_err(anyhow::Error::msg)?;
        let mut dashboard = Dashboard::open(options, no_color)?;
        let frames = headless::render(
            &mut dashboard,
            &keys,
            args.frames,
            size,
            Duration::from_millis(250),
        );
        for frame in frames {
            print!("{frame}");
        }
        dashboard.session.quit();
        return Ok(ExitCode::SUCCESS);
    }
    if !std::io::stdout().is_terminal() {
        bail!(
            "the dashboard needs a terminal; use `pessimist run SPEC...` or `pessimist tui --headless` in scripts"
        );
    }
    // The terminal belongs to the dashboard: logs go to a file in the store.
    std::fs::create_dir_all(&runs_dir)
        .with_context(|| format!("creating {}", runs_dir.display()))?;
    // Opened as every store file is: never through a link, never a FIFO.
    let log = runs_dir.join("pessimist.log");
    let appender = pessimist::fsio::open_for_writing(
        &log,
        std::fs::OpenOptions::new().create(true).append(true),
    )
    .with_context(|| format!("cannot open {}", log.display()))?;
    let _ = tracing_subscriber::fmt()
        .with_writer(std::sync::Mutex::new(appender))
        .with_ansi(false)
        .try_init();
    tracing::info!("dashboard on {}", runs_dir.display());
    let dashboard = Dashboard::open(options, no_color)?;
    terminal::run(dashboard)?;
    Ok(ExitCode::SUCCESS)
}
