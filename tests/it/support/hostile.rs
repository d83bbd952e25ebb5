//! What the hostile-input tests share (`hostile.rs`, `tmux_hostile.rs`,
//! `fuzz.rs`): hand-made npy files and FIFOs, and a small spec.

use std::path::Path;

/// A one-run ImitationTrap spec that trains in milliseconds.
pub const TRAP: &str = "env = \"ImitationTrap-v0\"\ngamma = 0.9\nseeds = [0]\niterations = 20\n\
                        eval_every = 5\ndataset = { policy = \"behavior\", size = 200 }\n\
                        [[algo]]\nname = \"bc\"\n";

/// An npy file (format 1.0) with header `dict` over `data`, padded as
/// numpy pads it: for headers that lie about their data.
pub fn npy(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut header = dict.to_string();
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    bytes.extend(data);
    bytes
}

pub fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a valid C string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}
