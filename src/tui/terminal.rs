//! The interactive dashboard in a real terminal: raw mode and the alternate
//! screen (restored on exit, on panic and on SIGTERM/SIGHUP), keyboard
//! input on its own thread, and a redraw only when something changed.
//!
//! Input is read on a thread of its own and reaches the loop through a
//! channel, so the loop never blocks inside the terminal library: crossterm
//! spins on an end-of-file (a closed SSH connection, a killed tmux pane)
//! until its wait times out, and a loop stuck there would neither see
//! SIGHUP nor exit. The input thread checks the terminal for a hangup
//! before every wait and reports it as `Input::Gone`.
//!
//! The thread waits in crossterm's own poll, which watches the terminal and
//! SIGWINCH together (level-triggered, with the `use-dev-tty` feature): a
//! resize is reported when it happens, not with the next key, and a key
//! typed during a resize is not left behind it. The loop redraws on
//! `Input::Resize`; ratatui's draw resizes its buffers and clears the
//! screen when the size changed.

use super::dashboard::Dashboard;
use super::view;
use crossterm::event::{self, Event, KeyEvent, KeyEventKind};
use crossterm::execute;
use crossterm::terminal::{EnterAlternateScreen, enable_raw_mode};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::{Duration, Instant};

/// How long the loop waits for input before looking at the session again.
const TICK: Duration = Duration::from_millis(100);
/// The same while a spec loads: the loop takes in a batch of its runs
/// between frames.
const LOADING_TICK: Duration = Duration::from_millis(10);
/// How often progress of running runs is redrawn.
const PROGRESS_REDRAW: Duration = Duration::from_millis(250);

/// What the input thread reports.
enum Input {
    Key(KeyEvent),
    Resize,
    /// The terminal hung up or cannot be read: nobody is watching any more.
    Gone,
}

/// Runs the dashboard until `q`, a termination signal or a hangup.
pub fn run(mut dashboard: Dashboard) -> std::io::Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGHUP] {
        signal_hook::flag::register(signal, stop.clone())?;
    }
    install_panic_hook();
    enable_raw_mode()?;
    let restore = Restore;
    let mut terminal = match execute!(std::io::stdout(), EnterAlternateScreen)
        .and_then(|()| Terminal::new(CrosstermBackend::new(std::io::stdout())))
    {
        Ok(terminal) => terminal,
        Err(e) => {
            let _ = ratatui::try_restore();
            return Err(e);
        }
    };
    let (tx, rx) = channel();
    spawn_input(tx, stop.clone())?;
    event_loop(&mut terminal, &mut dashboard, &stop, &rx);
    stop.store(true, Ordering::Relaxed);
    drop(restore);
    dashboard.session.quit();
    Ok(())
}

/// Restores the terminal before a panic of the dashboard's own thread or
/// of the input thread is reported (either ends the dashboard: the input
/// thread's end closes the channel, and the loop quits). Panics of other
/// threads (a training run, caught and recorded as that run's failure by
/// the pool) go to the log file: printing them would scribble over the
/// screen that keeps running. Whatever ends [`run`] otherwise, its
/// [`Restore`] guard restores the terminal on the way out.
fn install_panic_hook() {
    let report = std::panic::take_hook();
    let dashboard_thread = std::thread::current().id();
    std::panic::set_hook(Box::new(move |info| {
        let current = std::thread::current();
        if current.id() == dashboard_thread || current.name() == Some(INPUT_THREAD) {
            let _ = ratatui::try_restore();
            report(info);
        } else {
            tracing::error!("{info}");
        }
    }));
}

/// The input thread's name, which the panic hook knows it by.
const INPUT_THREAD: &str = "input";

/// Restores the terminal when dropped: on return and on unwinding alike.
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        // Errors here mean the terminal is gone: nothing is left to restore.
        let _ = ratatui::try_restore();
    }
}

/// Tests only, in a build with the `test-hooks` feature (the shipped
/// binary never reads it): `PESSIMIST_TEST_PANIC=input` makes the input
/// thread panic on its first key, to check that the terminal is restored.
fn forced_panic(place: &str) {
    if cfg!(feature = "test-hooks")
        && std::env::var_os("PESSIMIST_TEST_PANIC").is_some_and(|v| v == place)
    {
        panic!("forced panic in the {place} thread (PESSIMIST_TEST_PANIC)");
    }
}

fn event_loop(
    terminal: &mut Terminal<CrosstermBackend<std::io::Stdout>>,
    dashboard: &mut Dashboard,
    stop: &AtomicBool,
    input: &Receiver<Input>,
) {
    let mut dirty = true;
    let mut last_draw = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        if dirty {
            if let Err(e) = terminal.draw(|f| view::draw(f, &dashboard.app)) {
                tracing::info!("terminal unwritable, quitting: {e}");
                return;
            }
            dirty = false;
            last_draw = Instant::now();
        }
        let tick = if dashboard.session.loading() {
            LOADING_TICK
        } else {
            TICK
        };
        match input.recv_timeout(tick) {
            Ok(first) => {
                // Everything already typed (a paste, fast typing) is applied
                // before the next frame, so the frame shows all of it.
                let pending = std::iter::from_fn(|| input.try_recv().ok());
                for event in std::iter::once(first).chain(pending) {
                    match event {
                        Input::Key(key) => {
                            if dashboard.key(key) {
                                return;
                            }
                        }
                        Input::Resize => {}
                        Input::Gone => {
                            tracing::info!("terminal gone, quitting");
                            return;
                        }
                    }
                }
                dashboard.settle();
                dirty = true;
            }
            Err(RecvTimeoutError::Disconnected) => {
                tracing::info!("terminal gone, quitting");
                return;
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
        if dashboard.sync() {
            dirty = true;
        }
        if dashboard.busy() && last_draw.elapsed() >= PROGRESS_REDRAW {
            dashboard.progress();
            dirty = true;
        }
    }
}

/// Starts the thread that turns terminal input into [`Input`]s; it ends
/// when the terminal goes away or `stop` is set.
fn spawn_input(tx: Sender<Input>, stop: Arc<AtomicBool>) -> std::io::Result<()> {
    let tty = tty::Tty::open()?;
    std::thread::Builder::new()
        .name(INPUT_THREAD.into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if tty.hung_up() {
                    let _ = tx.send(Input::Gone);
                    return;
                }
                // Events crossterm already parsed (a paste read at once)
                // are answered at once; otherwise it waits for the
                // terminal or a SIGWINCH. The timeout only brings the
                // thread back to look at `stop` and for a hangup.
                let input = match event::poll(PROGRESS_REDRAW).and_then(|ready| {
                    // After a successful poll, read returns the event it queued.
                    ready.then(event::read).transpose()
                }) {
                    Ok(Some(Event::Key(key))) if key.kind != KeyEventKind::Release => {
                        forced_panic(INPUT_THREAD);
                        Input::Key(key)
                    }
                    Ok(Some(Event::Resize(..))) => Input::Resize,
                    Ok(None | Some(_)) => continue,
                    Err(_) => Input::Gone,
                };
                let gone = matches!(input, Input::Gone);
                if tx.send(input).is_err() || gone {
                    return;
                }
            }
        })?;
    Ok(())
}

#[cfg(unix)]
mod tty {
    //! The terminal device crossterm reads (standard input when it is a
    //! terminal, else /dev/tty), watched with poll(2) for a hangup.
    use std::fs::File;
    use std::io::IsTerminal;
    use std::os::fd::{AsRawFd, RawFd};

    pub struct Tty {
        fd: RawFd,
        /// Keeps /dev/tty open when standard input is not the terminal.
        _device: Option<File>,
    }

    impl Tty {
        pub fn open() -> std::io::Result<Self> {
            if std::io::stdin().is_terminal() {
                return Ok(Tty {
                    fd: std::io::stdin().as_raw_fd(),
                    _device: None,
                });
            }
            let device = File::open("/dev/tty")?;
            Ok(Tty {
                fd: device.as_raw_fd(),
                _device: Some(device),
            })
        }

        /// Whether the terminal hung up or cannot be watched (it never
        /// waits).
        pub fn hung_up(&self) -> bool {
            let mut watched = libc::pollfd {
                fd: self.fd,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd, for the duration of the call.
            let n = unsafe { libc::poll(&raw mut watched, 1, 0) };
            if n < 0 {
                return std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted;
            }
            watched.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0
        }
    }
}

#[cfg(not(unix))]
mod tty {
    //! Elsewhere a hangup shows as an error of crossterm's poll.

    pub struct Tty;

    impl Tty {
        pub fn open() -> std::io::Result<Self> {
            Ok(Tty)
        }

        pub fn hung_up(&self) -> bool {
            false
        }
    }
}
