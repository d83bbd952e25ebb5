//! `pessimist tui --headless`: the dashboard rendered as plain text frames
//! on stdout, for scripts and tests (no terminal needed).

use super::dashboard::Dashboard;
use super::view;
use crossterm::event::KeyEvent;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use std::time::Duration;

/// The buffer as text, one line per row (trailing spaces trimmed).
pub fn buffer_text(buffer: &Buffer) -> String {
    let area = buffer.area;
    let mut out = String::new();
    for y in 0..area.height {
        let mut line = String::new();
        for x in 0..area.width {
            line.push_str(buffer[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Waits for the specs to load, feeds `keys`, then renders `frames` frames of `width`×`height`, waiting
/// up to `interval` for changes before each frame after the first.
pub fn render(
    dashboard: &mut Dashboard,
    keys: &[KeyEvent],
    frames: usize,
    (width, height): (u16, u16),
    interval: Duration,
) -> Vec<String> {
    let Ok(mut terminal) = Terminal::new(TestBackend::new(width, height));
    // Frames for scripts show every spec whole.
    dashboard.finish_loading();
    dashboard.sync();
    for key in keys {
        if dashboard.key(*key) {
            break;
        }
        dashboard.sync();
    }
    dashboard.settle();
    let mut out = Vec::with_capacity(frames);
    for i in 0..frames {
        if i > 0 {
            std::thread::sleep(interval);
            dashboard.sync();
            dashboard.refresh();
        }
        let Ok(completed) = terminal.draw(|f| view::draw(f, &dashboard.app));
        out.push(buffer_text(completed.buffer));
    }
    out
}
