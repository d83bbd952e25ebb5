//! The interactive dashboard in a real terminal: raw mode and the alternate
//! screen (restored on exit, on panic and on SIGTERM/SIGHUP), keyboard
//! input, and a redraw only when something changed.

use super::dashboard::Dashboard;
use super::view;
use crossterm::event::{self, Event, KeyEventKind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long to wait for input before looking at the session again.
const TICK: Duration = Duration::from_millis(100);
/// How often progress of running runs is redrawn.
const PROGRESS_REDRAW: Duration = Duration::from_millis(250);

/// Runs the dashboard until `q` or a termination signal.
pub fn run(mut dashboard: Dashboard) -> std::io::Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGHUP] {
        signal_hook::flag::register(signal, stop.clone())?;
    }
    // `ratatui::init` also installs a panic hook that restores the terminal.
    let mut terminal = ratatui::try_init()?;
    let result = event_loop(&mut terminal, &mut dashboard, &stop);
    ratatui::restore();
    dashboard.session.shutdown();
    result
}

fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    dashboard: &mut Dashboard,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    let mut dirty = true;
    let mut last_draw = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        if dirty {
            terminal.draw(|f| view::draw(f, &dashboard.app))?;
            dirty = false;
            last_draw = Instant::now();
        }
        if event::poll(TICK)? {
            match event::read()? {
                Event::Key(key) if key.kind != KeyEventKind::Release => {
                    if dashboard.key(key) {
                        return Ok(());
                    }
                    dirty = true;
                }
                Event::Resize(..) => dirty = true,
                _ => {}
            }
        }
        if dashboard.sync() {
            dirty = true;
        }
        if dashboard.busy() && last_draw.elapsed() >= PROGRESS_REDRAW {
            dashboard.refresh();
            dirty = true;
        }
    }
    Ok(())
}
