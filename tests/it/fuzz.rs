//! Property-based fuzzing of every reader of user- or machine-written files
//! (issue 12): the spec parser and grid expansion, the dataset CSV reader,
//! `metrics.jsonl`, `summary.json` and `config.json`, the npy reader, map
//! files and MDP JSON files. Each target gets inputs from proptest
//! generators that mix valid files, mutations of them and raw bytes, and
//! must return `Ok` or `Err` for every one: no panic, no hang, and no
//! single allocation above [`ALLOCATION_BOUND`] (a counting global
//! allocator checks it around every case). Sizes read from input are
//! bounded before allocation: `features` tables and an MDP file's
//! `max_episode_steps` have targets of their own.
//!
//! `cargo test --release --test it fuzz::` runs a CI-sized slice:
//! [`CI_CASES`] cases per target (a few seconds). The full run, over a
//! million generated inputs in total, sets the cases per target:
//!
//! ```sh
//! PESSIMIST_FUZZ_CASES=130000 cargo test --release --test it fuzz:: -- --test-threads 8
//! ```
//!
//! (9 targets × 130,000 cases = 1,170,000 inputs.) Measured on
//! 2026-11-27 (2 shared cores, load 2–6), before the `features` target:
//! 1,040,000 inputs in 46 s,
//! 336,619 of them accepted as valid, no panic, no hang, no allocation
//! above the bound, 111 MiB peak resident memory.

use crate::support::cli;
use crate::support::hostile::npy;
use pessimist::data::npy::parse_q_table;
use pessimist::experiment::{RunDir, spec, store};
use pessimist::mdp::envs::MAX_EPISODE_STEPS;
use pessimist::mdp::solve::EpisodeScale;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Cases per target in `cargo test`.
const CI_CASES: u32 = 5_000;
/// No reader may ask for more in one allocation on these inputs (all are
/// under a few KiB; the largest documented bound, 64 MiB, is for files
/// that really are that large).
const ALLOCATION_BOUND: usize = 64 << 20;

/// Counts, for the current thread, the largest single allocation while a
/// case runs, and the bytes it holds at most ([`peak_bytes`]).
struct Counting;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
    /// Bytes this thread allocated minus those it freed.
    static LIVE: Cell<isize> = const { Cell::new(0) };
    /// The most `LIVE` has been since [`peak_bytes`] last reset it.
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        held(layout.size() as isize);
        // SAFETY: forwarded unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        held(-(layout.size() as isize));
        // SAFETY: forwarded unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        held(layout.size() as isize);
        // SAFETY: forwarded unchanged.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // Both blocks count while the old one is copied.
        held(new_size as isize);
        held(-(layout.size() as isize));
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

fn note(size: usize) {
    // try_with: thread-local storage may be gone while a thread exits.
    let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
}

fn held(delta: isize) {
    let _ = LIVE.try_with(|live| {
        live.set(live.get() + delta);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(live.get())));
    });
}

/// The most bytes the current thread held at once while `f` ran, beyond
/// what it held before.
fn peak_bytes<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(before));
    let out = f();
    (out, (PEAK.with(Cell::get) - before).max(0) as usize)
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// A scratch directory in memory where there is one: every case writes
/// its input to a file, and a disk's metadata updates would dominate.
fn scratch() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(dir) = tempfile::tempdir_in(shm)
    {
        return dir;
    }
    tempfile::tempdir().unwrap()
}

fn cases() -> u32 {
    std::env::var("PESSIMIST_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CI_CASES)
}

/// Runs `check` on `cases()` inputs from `strategy`, failing on a panic or
/// an allocation above the bound; `check` says whether the reader accepted
/// the input. Prints the count, how many were accepted, and the time.
fn fuzz<S: Strategy>(name: &str, strategy: S, check: impl Fn(S::Value) -> bool)
where
    S::Value: std::fmt::Debug,
{
    let config = Config {
        cases: cases(),
        failure_persistence: None,
        // Shrinking a hostile input can take long; the first failure says enough.
        max_shrink_iters: 64,
        ..Config::default()
    };
    let started = std::time::Instant::now();
    let accepted = AtomicUsize::new(0);
    let mut runner = TestRunner::new(config);
    let result = runner.run(&strategy, |input| {
        LARGEST.with(|l| l.set(0));
        if check(input) {
            accepted.fetch_add(1, Ordering::Relaxed);
        }
        let largest = LARGEST.with(Cell::get);
        if largest > ALLOCATION_BOUND {
            return Err(TestCaseError::fail(format!(
                "an allocation of {largest} bytes, above the {ALLOCATION_BOUND} bound"
            )));
        }
        Ok(())
    });
    eprintln!(
        "fuzz {name}: {} cases ({} accepted) in {:.2} s",
        cases(),
        accepted.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64()
    );
    if let Err(e) = result {
        panic!("fuzz {name}: {e}");
    }
}

/// Printable-ish text with the characters file formats care about.
fn text_from(alphabet: &'static str, max: usize) -> impl Strategy<Value = String> {
    let chars: Vec<char> = alphabet.chars().collect();
    prop::collection::vec(prop::sample::select(chars), 0..max).prop_map(|v| v.into_iter().collect())
}

/// `valid` with a few bytes replaced, inserted or cut: mostly well-formed
/// inputs that break in one place, where parsers have their bugs.
fn mutated(valid: Vec<String>) -> impl Strategy<Value = String> {
    let edits = prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, any::<char>()), 0..6);
    (prop::sample::select(valid), edits).prop_map(|(base, edits)| {
        let mut chars: Vec<char> = base.chars().collect();
        for (at, kind, c) in edits {
            let i = at.index(chars.len() + 1);
            match kind {
                0 if i < chars.len() => chars[i] = c,
                1 => chars.insert(i, c),
                _ if i < chars.len() => {
                    chars.remove(i);
                }
                _ => {}
            }
        }
        chars.into_iter().collect()
    })
}

/// A valid file, a mutation of one, structured text, or raw bytes.
fn inputs(valid: Vec<String>, alphabet: &'static str) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        2 => prop::sample::select(valid.clone()).prop_map(String::into_bytes),
        4 => mutated(valid).prop_map(String::into_bytes),
        2 => text_from(alphabet, 300).prop_map(String::into_bytes),
        1 => prop::collection::vec(any::<u8>(), 0..300),
    ]
}

const SPECS: [&str; 3] = [
    "name = \"a\"\nenv = \"FrozenLake-v1\"\ngamma = 0.9\nseeds = [0, 1]\niterations = 100\neval_every = 10\n\
     dataset = { policy = \"medium\", size = [100, 1000] }\n[[algo]]\nname = \"cql\"\nalpha = [0.1, 1.0]\n",
    "env = \"ImitationTrap-v0\"\ngamma = 0.9\nseeds = [0]\niterations = 20\neval_every = 5\n\
     dataset = { policy = \"behavior\", size = 200 }\n[[algo]]\nname = \"bc\"\n[[algo]]\nname = \"fqi\"\n",
    "env = [\"Chain-v5\", \"map:maps/m.txt\"]\ngamma = [0.9, 0.99]\nseeds = [0]\niterations = 10\n\
     dataset = { file = \"data.csv\" }\n[[algo]]\nname = \"iql\"\ntau = [0.7, 0.9]\nbeta = 3\n",
];

#[test]
fn fuzz_spec_parser_and_grid_expansion() {
    let dir = scratch();
    std::fs::create_dir(dir.path().join("maps")).unwrap();
    std::fs::write(dir.path().join("maps/m.txt"), "SF\nFG\n").unwrap();
    std::fs::write(
        dir.path().join("data.csv"),
        "episode,step,state,action,reward,next_state,terminated,truncated\n0,0,0,0,1,1,true,false\n",
    )
    .unwrap();
    let path = dir.path().join("spec.toml");
    let valid = SPECS.iter().map(std::string::ToString::to_string).collect();
    fuzz(
        "spec",
        inputs(valid, "abcdegilmnoprstuvy_=[]{}\",.0123456789\n #-:"),
        |bytes| {
            let text = String::from_utf8_lossy(&bytes);
            spec::parse(&path, &text).is_ok()
        },
    );
}

/// Feature tables of every kind on Taxi (4 coordinates, 500 states × 6
/// actions) and FrozenLake8x8: mutated numbers and kinds make sizes far
/// past memory (64 centres per coordinate are a 67 GB matrix).
const FEATURE_SPECS: [&str; 7] = [
    "features = { kind = \"rbf\", centres = 3, width = 0.5 }",
    "features = { kind = \"rbf\", centres = \"kmeans\", k = 4, actions = \"shared\" }",
    "features = { kind = \"tile\", tilings = 8, tiles = 4, size = 512 }",
    "features = { kind = \"poly\", degree = 2 }",
    "features = { kind = \"random\", dim = 16 }",
    "features = [{ kind = \"onehot\", actions = \"shared\" }, { kind = \"grid\" }]",
    "features = { kind = \"env\" }",
];

/// Every size a `features` table asks for is checked when the spec is
/// read, before anything is allocated: a spec the parser accepts builds
/// its features (where the checked size is within the bound, the harness
/// then sees every allocation stay within it too).
#[test]
fn fuzz_feature_sizes() {
    let dir = scratch();
    let path = dir.path().join("spec.toml");
    let valid = FEATURE_SPECS
        .iter()
        .map(|f| {
            format!(
                "env = [\"Taxi-v4\", \"FrozenLake8x8-v1\"]\niterations = 10\n\
                 dataset = {{ policy = \"random\", size = 100 }}\n{f}\n[[algo]]\nname = \"fqi\"\n"
            )
        })
        .collect();
    fuzz(
        "features",
        inputs(valid, "abcdefghiklmnoprstuwy_=[]{}\",.0123456789\n "),
        |bytes| {
            let text = String::from_utf8_lossy(&bytes);
            let Ok(spec) = spec::parse(&path, &text) else {
                return false;
            };
            for run in &spec.runs {
                let mdp = pessimist::mdp::envs::make(&run.env).unwrap();
                let bytes = run
                    .features
                    .check_size(&mdp)
                    .expect("checked by the parser");
                if bytes <= ALLOCATION_BOUND {
                    run.features.build(&mdp, run.seed).unwrap();
                }
            }
            true
        },
    );
}

/// Plain files (read by the fast path) and files it hands to the csv
/// crate from the start or from a line on: quotes, CRLF, a BOM, a blank
/// line, a row of another width.
const CSVS: [&str; 5] = [
    "episode,step,state,action,reward,next_state,terminated,truncated\n\
     0,0,0,0,1.5,1,false,false\n0,1,1,1,-10,2,true,false\n1,0,0,1,0,2,True,0\n",
    "state,action,reward,next_state,terminated,truncated,episode,step,extra\n\
     0,1,0,2,1,0,0,0,x\n",
    "episode,step,state,action,reward,next_state,terminated,truncated\n\
     0,0,0,0,+1,1,false,false\n0,1,1,1,\"2\",2,true,false\n\n1,0,0,1,0,2,0,0\n1,1,1\n",
    "episode,step,state,action,reward,next_state,terminated,truncated\r\n\
     0,0,0,0,1.5,1,false,false\r\n",
    "\u{feff}episode,step,state,action,reward,next_state,terminated,truncated\n\
     0,0,0,0,1.5,1,false,false",
];

#[test]
fn fuzz_dataset_csv_reader() {
    let dir = scratch();
    let path = dir.path().join("data.csv");
    let valid = CSVS.iter().map(std::string::ToString::to_string).collect();
    fuzz(
        "csv",
        inputs(valid, "0123456789,.-\n\r\"truefalsTF eE+"),
        |bytes| {
            std::fs::write(&path, &bytes).unwrap();
            pessimist::data::read_csv(&path, 3, 2).is_ok()
        },
    );
}

/// Observation CSVs (d = 2, 3 actions, MountainCar's shape): plain, with
/// columns reordered and an extra one, and handed to the csv crate.
const OBS_CSVS: [&str; 3] = [
    "episode,step,obs_0,obs_1,action,reward,next_obs_0,next_obs_1,terminated,truncated\n\
     0,0,-0.5,0.0,2,-1.0,-0.499,0.001,false,false\n0,1,-0.499,0.001,0,-1,-0.5,-0.001,false,true\n",
    "obs_1,obs_0,next_obs_1,next_obs_0,action,reward,terminated,truncated,episode,step,x\n\
     0,-0.5,1e-3,-0.49,1,-1,0,1,0,0,y\n",
    "episode,step,obs_0,obs_1,action,reward,next_obs_0,next_obs_1,terminated,truncated\r\n\
     0,0,\"-0.5\",0,2,-1,-0.4,0,true,false\r\n",
];

#[test]
fn fuzz_observation_csv_reader() {
    let dir = scratch();
    let path = dir.path().join("obs.csv");
    let valid = OBS_CSVS
        .iter()
        .map(std::string::ToString::to_string)
        .collect();
    fuzz(
        "obs-csv",
        inputs(valid, "0123456789,.-\n\r\"truefalsTF eE+_obsnxt"),
        |bytes| {
            std::fs::write(&path, &bytes).unwrap();
            pessimist::data::observed::read_obs_csv(&path, 2, 3).is_ok()
        },
    );
}

/// An observation archive with a few of its bytes changed, or cut short:
/// an error, never a panic or an allocation beyond the bound.
#[test]
fn fuzz_observation_npz_reader() {
    let dir = scratch();
    let path = dir.path().join("obs.npz");
    let (data, _) = pessimist::data::observed::collect_id(
        "MountainCar-v0",
        pessimist::data::Quality::Expert,
        20,
        0,
    )
    .unwrap()
    .unwrap();
    pessimist::data::observed::write_obs_npz(&path, &data).unwrap();
    let valid = std::fs::read(&path).unwrap();
    let edits = prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4);
    let strategy = (edits, any::<prop::sample::Index>(), any::<bool>()).prop_map(
        move |(edits, cut, short)| {
            let mut bytes = valid.clone();
            for (at, b) in edits {
                let i = at.index(bytes.len());
                bytes[i] = b;
            }
            if short {
                bytes.truncate(cut.index(bytes.len()));
            }
            bytes
        },
    );
    fuzz("obs-npz", strategy, |bytes| {
        std::fs::write(&path, &bytes).unwrap();
        pessimist::data::observed::read_obs_npz(&path, 2, 3).is_ok()
    });
}

/// A run directory holding one finished ImitationTrap run's files, as
/// valid inputs for the store's readers.
fn store_files() -> (tempfile::TempDir, Vec<(String, String)>) {
    let dir = scratch();
    let (spec, runs) = (dir.path().join("trap.toml"), dir.path().join("runs"));
    std::fs::write(&spec, SPECS[1]).unwrap();
    let out = cli::pessimist(&[
        "run",
        "--json",
        "--runs",
        runs.to_str().unwrap(),
        spec.to_str().unwrap(),
    ]);
    let runs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let run = dir.path().join(runs[0]["dir"].as_str().unwrap());
    let files = ["config.json", "summary.json", "metrics.jsonl"]
        .iter()
        .map(|f| (f.to_string(), std::fs::read_to_string(run.join(f)).unwrap()))
        .collect();
    (dir, files)
}

#[test]
fn fuzz_store_readers() {
    let (_keep, files) = store_files();
    let dir = scratch();
    let run = RunDir::new(dir.path());
    for (name, valid) in files {
        let path = dir.path().join(&name);
        let alphabet = "{}[]\":,.-0123456789eEtruefalsnl_abcdimopqrstxy\n ";
        fuzz(&name, inputs(vec![valid], alphabet), |bytes| {
            std::fs::write(&path, &bytes).unwrap();
            match name.as_str() {
                "config.json" => store::read_config(&run).is_ok(),
                "summary.json" => store::read_summary(&run).is_ok(),
                _ => {
                    let ok = store::read_metrics(&run).is_ok();
                    // And incrementally, after a first read of a prefix.
                    let mut history = store::History::default();
                    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
                    let _ = history.read_new(&run);
                    std::fs::write(&path, &bytes).unwrap();
                    let _ = history.read_new(&run);
                    ok
                }
            }
        });
    }
}

#[test]
fn fuzz_npy_reader() {
    let shape = (0u64..1 << 40, 0u64..1 << 40);
    let dims = prop_oneof![(0u64..6, 0u64..6), shape];
    let headers = (
        dims,
        prop::sample::select(vec!["<f8", ">f8", "<f4", "|u1", "<i8"]),
        any::<bool>(),
        prop::collection::vec(any::<u8>(), 0..400),
    )
        .prop_map(|((r, c), descr, fortran, data)| {
            let dict = format!(
                "{{'descr': '{descr}', 'fortran_order': {}, 'shape': ({r}, {c}), }}",
                if fortran { "True" } else { "False" }
            );
            npy(&dict, &data)
        });
    let raw = (
        prop::sample::select(vec![1u8, 2, 3, 9]),
        any::<u32>(),
        prop::collection::vec(any::<u8>(), 0..200),
    )
        .prop_map(|(version, len, rest)| {
            let mut bytes = b"\x93NUMPY".to_vec();
            bytes.extend([version, 0]);
            bytes.extend(len.to_le_bytes());
            bytes.extend(rest);
            bytes
        });
    let valid = npy(
        "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }",
        &[0u8; 32],
    );
    let mutated = (prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4))
        .prop_map(move |edits| {
            let mut bytes = valid.clone();
            for (at, b) in edits {
                let i = at.index(bytes.len());
                bytes[i] = b;
            }
            bytes
        });
    let strategy = prop_oneof![
        headers,
        raw,
        mutated,
        prop::collection::vec(any::<u8>(), 0..200)
    ];
    fuzz("npy", strategy, |bytes| {
        let q = parse_q_table(&bytes);
        if let Ok(q) = &q {
            assert!(q.len() * 8 <= bytes.len(), "a table larger than its file");
        }
        q.is_ok()
    });
}

const MAPS: [&str; 3] = ["SFFF\nFHFH\nFFFH\nHFFG\n", "SG\n", "SFH\nFFG\n"];

#[test]
fn fuzz_map_files() {
    let dir = scratch();
    let path = dir.path().join("m.txt");
    let id = format!("map:{}", path.display());
    let valid = MAPS.iter().map(std::string::ToString::to_string).collect();
    fuzz("map", inputs(valid, "SFHG\n \r#x"), |bytes| {
        std::fs::write(&path, &bytes).unwrap();
        pessimist::mdp::envs::make(&id).is_ok()
    });
}

fn mdp_json() -> Vec<String> {
    let show = |id: &str| {
        let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("pessimist"))
            .args(["env", "show", id, "--json"])
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    // A time limit one digit from the bound, so mutations cross it.
    let long = show("Chain-v5").replace(
        "\"max_episode_steps\":20",
        &format!("\"max_episode_steps\":{}", MAX_EPISODE_STEPS - 1),
    );
    vec![show("ImitationTrap-v0"), show("ThreeState-v0"), long]
}

#[test]
fn fuzz_mdp_files() {
    let dir = scratch();
    let path = dir.path().join("mdp.json");
    let id = format!("file:{}", path.display());
    fuzz(
        "mdp-json",
        inputs(mdp_json(), "{}[]\":,.-0123456789eEtruefalsnPi_\n "),
        |bytes| {
            std::fs::write(&path, &bytes).unwrap();
            let Ok(mdp) = pessimist::mdp::envs::make(&id) else {
                return false;
            };
            // A time limit is bounded when read, so every eval point's
            // exact episode return (one step per time step) ends.
            assert!(mdp.time_limit().is_none_or(|t| t <= MAX_EPISODE_STEPS));
            EpisodeScale::new(&mdp).is_ok()
        },
    );
}

/// An MDP file at the documented size limit (64 MiB, Gymnasium's shape)
/// is read in memory proportionate to it: the table is read straight
/// into its flat form. Issue 20: reading it through JSON values held
/// 1.4 GB before anything was validated.
#[test]
fn an_mdp_file_at_the_size_limit_is_read_in_proportionate_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.json");
    let limit = pessimist::fsio::MDP_FILE.bytes as usize;
    // A chain: each state's 4 actions each lead to one state, as
    // Gymnasium's `json.dump(P)` writes them (about 120 bytes a state).
    let state = |s: usize, n: usize| {
        let next = |d: usize| (s + d) % n;
        format!(
            "[[[1.0, {}, -1.0, false]], [[1.0, {}, -1.0, false]], [[1.0, {}, -1.0, false]], [[1.0, {}, 0.0, true]]]",
            next(1),
            next(2),
            next(3),
            s
        )
    };
    let n = (limit - 1024) / (state(100_000, 1_000_000).len() + 2 + "0.0, ".len());
    let mut text =
        format!("{{\"n_states\": {n}, \"n_actions\": 4, \"initial_state_distribution\": [1.0");
    text.push_str(&", 0.0".repeat(n - 1));
    text.push_str("], \"P\": [");
    for s in 0..n {
        if s > 0 {
            text.push_str(", ");
        }
        text.push_str(&state(s, n));
    }
    text.push_str("]}");
    assert!(
        text.len() <= limit && text.len() > limit - (1 << 20),
        "{}",
        text.len()
    );
    std::fs::write(&path, &text).unwrap();
    drop(text);
    let id = format!("file:{}", path.display());
    let (mdp, peak) = peak_bytes(|| pessimist::mdp::envs::make(&id).unwrap());
    assert_eq!((mdp.n_states(), mdp.n_actions()), (n, 4));
    eprintln!(
        "a {} MiB MDP file held at most {} MiB while read",
        limit >> 20,
        peak >> 20
    );
    assert!(
        peak < 3 * limit,
        "reading a {limit}-byte MDP file held {peak} bytes at once"
    );
}

#[test]
fn the_fuzz_harness_catches_an_unbounded_allocation() {
    let caught = std::panic::catch_unwind(|| {
        fuzz("self-check", Just(()), |()| {
            // What a reader trusting a header would do.
            let v: Vec<u8> = Vec::with_capacity(ALLOCATION_BOUND + 1);
            drop(v);
            true
        });
    });
    assert!(caught.is_err(), "the bound is enforced");
}
