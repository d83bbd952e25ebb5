//! "Scales out on Slurm", tested on a real cluster: `scripts/slurm_cluster.sh`
//! starts Debian's Slurm 22.05 as a single node (munged, slurmctld, slurmd),
//! `sbatch --array=0-3` runs `pessimist run SPEC --runs STORE` (each task
//! takes its shard from the SLURM_ARRAY_* variables) while a headless
//! dashboard watches the store, one task is cancelled with `scancel` mid-run
//! and requeued, and the store must equal a single-machine run of the spec.
//!
//! Needs root and `sbatch` (slurm-wlm, munge). Without them the test says so
//! and passes, unless PESSIMIST_REQUIRE_SLURM=1 (`.ci/run` sets it): then it
//! must run. Every wait is on a file, a job state or a status, bounded by a
//! generous timeout that fails loudly; nothing depends on how fast it runs.

use crate::support::files::summary;
use crate::support::skip::skip_or_fail;
use assert_cmd::cargo::cargo_bin;
use pessimist::experiment::spec;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Timeout of every wait: far beyond what the waits take (seconds), only
/// there so that a broken cluster fails the test instead of hanging it.
const PATIENCE: Duration = Duration::from_secs(300);

/// Eight runs of a second or two each: two per array task.
const SPEC: &str = r#"name = "cluster"
env = "FrozenLake8x8-v1"
gamma = 0.99
seeds = [0, 1, 2, 3, 4, 5, 6, 7]
iterations = 3000
eval_every = 100
dataset = { policy = "medium", size = 20_000 }

[[algo]]
name = "fqi"
variant = "sample"
lr = 0.1
"#;

const TASKS: usize = 4;

/// Runs `cmd`, which must succeed; its stdout.
fn ok(cmd: &mut Command) -> String {
    let out: Output = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Polls `check` every 50 ms until it gives a value; panics after [`PATIENCE`].
fn wait_for<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "timed out after {} s waiting for {what}",
            PATIENCE.as_secs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs()
}

/// The cluster of `scripts/slurm_cluster.sh start`; its jobs are cancelled
/// and its daemons killed by PID when dropped, also when the test fails.
struct Cluster {
    conf: PathBuf,
    pids: Vec<(String, i32)>,
}

impl Cluster {
    fn start(dir: &Path) -> Cluster {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/slurm_cluster.sh");
        let out = Command::new("bash")
            .arg(&script)
            .arg("start")
            .arg(dir)
            .output()
            .expect("running scripts/slurm_cluster.sh");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut cluster = Cluster {
            conf: PathBuf::new(),
            pids: Vec::new(),
        };
        for line in stdout.lines() {
            if let Some(conf) = line.strip_prefix("SLURM_CONF=") {
                cluster.conf = PathBuf::from(conf);
            } else if let ["pid", name, pid] = line.split_whitespace().collect::<Vec<_>>()[..] {
                cluster.pids.push((name.to_string(), pid.parse().unwrap()));
            }
        }
        assert!(
            out.status.success() && cluster.pids.len() == 3,
            "the cluster did not start ({}):\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        cluster
    }

    /// A Slurm command talking to this cluster.
    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("SLURM_CONF", &self.conf);
        cmd
    }

    /// `JobState` of job (or array task) `id`, from `scontrol show job`.
    fn state(&self, id: &str) -> String {
        let out = ok(self.command("scontrol").args(["show", "job", id]));
        out.split_whitespace()
            .find_map(|w| w.strip_prefix("JobState="))
            .unwrap_or_else(|| panic!("no JobState for {id}:\n{out}"))
            .to_string()
    }

    /// Waits until job `id` is in `state`.
    fn wait_state(&self, id: &str, state: &str) {
        let mut last = String::new();
        wait_for(&format!("job {id} to be {state}"), || {
            last = self.state(id);
            (last == state).then_some(())
        });
    }

    /// Whether `squeue` still lists any task of job `job` (pending or running).
    fn queued(&self, job: &str) -> bool {
        !ok(self.command("squeue").args(["-h", "-o", "%i", "-j", job]))
            .trim()
            .is_empty()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Jobs first (their processes belong to slurmstepd, not to the
        // daemons), then the daemons, by PID: SIGTERM, then SIGKILL.
        let _ = self.command("scancel").args(["--user", "root"]).output();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30)
            && self
                .command("squeue")
                .args(["-h", "-o", "%i"])
                .output()
                .is_ok_and(|o| o.status.success() && !o.stdout.is_empty())
        {
            std::thread::sleep(Duration::from_millis(100));
        }
        for (_, pid) in &self.pids {
            // SAFETY: kill(2) on a PID the cluster script started.
            unsafe { libc::kill(*pid, libc::SIGTERM) };
        }
        for (name, pid) in &self.pids {
            let started = Instant::now();
            while Path::new(&format!("/proc/{pid}")).exists()
                && started.elapsed() < Duration::from_secs(10)
            {
                std::thread::sleep(Duration::from_millis(50));
            }
            if Path::new(&format!("/proc/{pid}")).exists() {
                eprintln!("{name} ({pid}) ignored SIGTERM: SIGKILL");
                // SAFETY: as above.
                unsafe { libc::kill(*pid, libc::SIGKILL) };
            }
        }
    }
}

fn log(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("log.txt"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// The worker (`host:pid`) a log line names, after " on ".
fn worker_of(line: &str) -> String {
    line.rsplit(" on ").next().unwrap().trim().to_string()
}

/// The fields of a metrics line that training determines (not the clock).
fn metrics(dir: &Path) -> Vec<Vec<Value>> {
    const FIELDS: [&str; 8] = [
        "iteration",
        "q_est",
        "true_return",
        "q_data",
        "normalized_score",
        "bellman_error",
        "ood_fraction",
        "loss",
    ];
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            FIELDS.iter().map(|k| v[*k].clone()).collect()
        })
        .collect()
}

fn report(store: &Path) -> String {
    ok(Command::new(cargo_bin("pessimist"))
        .arg("report")
        .arg(store)
        .args(["--format", "csv"]))
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A cluster directory inside a mode-700 directory is refused at once
/// with the directory to open up, instead of munged waiting until a timeout.
#[test]
fn a_cluster_out_of_munges_reach_is_refused_with_the_directory_to_open() {
    let have_munged = Command::new("munged").arg("--version").output().is_ok();
    if !(have_munged && is_root()) {
        skip_or_fail(
            "PESSIMIST_REQUIRE_SLURM",
            "munged and root (slurm-wlm, munge)",
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let open = std::os::unix::fs::PermissionsExt::from_mode(0o755);
    std::fs::set_permissions(tmp.path(), open).unwrap();
    let closed = tmp.path().join("closed");
    std::fs::create_dir(&closed).unwrap();
    std::fs::set_permissions(&closed, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/slurm_cluster.sh");
    let out = Command::new(&script)
        .arg("start")
        .arg(closed.join("cluster"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    let expected = format!("{} is mode 700", closed.display());
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(!stderr.contains("timed out"), "{stderr}");
}

#[test]
fn a_slurm_job_array_trains_every_run_once_and_survives_a_cancelled_task() {
    let have_slurm = Command::new("sbatch").arg("--version").output().is_ok();
    if !(have_slurm && is_root()) {
        skip_or_fail(
            "PESSIMIST_REQUIRE_SLURM",
            if have_slurm {
                "not root (a Slurm cluster needs root)"
            } else {
                "no sbatch: install slurm-wlm and munge (see .ci/run) and run as root"
            },
        );
        return;
    }
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    // munged (the munge user) must reach the cluster's directory.
    std::fs::set_permissions(root, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let experiments = root.join("experiments");
    std::fs::create_dir(&experiments).unwrap();
    let spec_path = experiments.join("cluster.toml");
    std::fs::write(&spec_path, SPEC).unwrap();
    let store = root.join("runs");
    let cluster = Cluster::start(&root.join("cluster"));
    let cluster_started = started.elapsed();

    // Each task's shard: the runs i with i mod 4 = task, in grid order.
    let spec = spec::load(&spec_path).unwrap();
    let shards: Vec<Vec<PathBuf>> = (0..TASKS)
        .map(|task| {
            spec.runs
                .iter()
                .enumerate()
                .filter(|(i, _)| i % TASKS == task)
                .map(|(_, c)| store.join(&spec.name).join(c.id().to_string()))
                .collect()
        })
        .collect();

    // While `hold` exists, every run stops after its first step, checkpointed
    // (a test-only switch of the runner): task 0 is cancelled while it holds.
    let hold = root.join("hold");
    std::fs::write(&hold, "").unwrap();
    let bin = cargo_bin("pessimist");
    let job_script = root.join("task.sh");
    std::fs::write(
        &job_script,
        format!(
            "#!/bin/sh\nexec '{}' run '{}' --runs '{}' --jobs 1\n",
            bin.display(),
            spec_path.display(),
            store.display()
        ),
    )
    .unwrap();
    let job = ok(cluster
        .command("sbatch")
        .args(["--parsable", "--array=0-3", "--output"])
        .arg(root.join("task_%a.out"))
        .arg(&job_script)
        .env("PESSIMIST_TEST_HOLD", &hold)
        .current_dir(root))
    .trim()
    .to_string();

    // A headless dashboard watches the store meanwhile; it only watches
    // (--no-autostart), so it must never train a run.
    let dashboard = Command::new(&bin)
        .arg("tui")
        .arg(&experiments)
        .arg("--runs")
        .arg(&store)
        .args([
            "--headless",
            "--no-autostart",
            "--frames",
            "8",
            "--size",
            "120x30",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let dashboard_worker = format!(":{}", dashboard.id());

    // Task 0 runs and holds its first run mid-run, checkpointed.
    let task0 = format!("{job}_0");
    let first = shards[0][0].clone();
    let held_by = wait_for("task 0 to hold its first run", || {
        let s = summary(&first)?;
        (cluster.state(&task0) == "RUNNING"
            && s["status"] == "running"
            && s["iterations_done"].as_u64()? >= 1)
            .then(|| s["worker"].as_str().unwrap().to_string())
    });
    ok(cluster.command("scancel").arg(&task0));
    cluster.wait_state(&task0, "CANCELLED");
    // The cancelled task's process is gone once its run's lock is free.
    wait_for("the cancelled task's process to end", || {
        let pid = held_by.rsplit(':').next()?;
        (!Path::new(&format!("/proc/{pid}")).exists()).then_some(())
    });
    assert_ne!(summary(&first).unwrap()["status"], "done");
    // CANCELLED shows while slurmd still cleans the step up (COMPLETING, as
    // squeue lists it); a job requeued then can fail to launch. Wait until
    // squeue no longer lists it at all.
    wait_for("the cancelled task to finish completing", || {
        (!cluster.queued(&task0)).then_some(())
    });
    // slurmd refuses a launch credential created in the same whole second as
    // the job's revocation (`cred_revoked`: ctime <= revoked, in seconds), and
    // the job is revoked before it leaves the queue. So the requeued task may
    // start only once the clock has passed the second it left the queue in.
    let left_queue = unix_seconds();
    wait_for(
        "the clock to pass the second the cancelled task ended in",
        || (unix_seconds() > left_queue).then_some(()),
    );

    // Let every run go, and requeue the cancelled task (at once: a requeued
    // job otherwise waits for its begin time).
    std::fs::remove_file(&hold).unwrap();
    ok(cluster.command("scontrol").args(["requeue", &task0]));
    ok(cluster
        .command("scontrol")
        .args(["update", &format!("JobId={task0}"), "StartTime=now"]));
    wait_for("every task of the array to end", || {
        (!cluster.queued(&job)).then_some(())
    });
    for task in 0..TASKS {
        let id = format!("{job}_{task}");
        let output =
            std::fs::read_to_string(root.join(format!("task_{task}.out"))).unwrap_or_default();
        let state = cluster.state(&id);
        if state != "COMPLETED" {
            let job = ok(cluster.command("scontrol").args(["show", "job", &id]));
            let log =
                std::fs::read_to_string(root.join("cluster/slurmctld.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            panic!(
                "task {task} ended {state}:\n{output}\n{job}\nslurmctld.log (last lines, newest first):\n{}",
                tail.join("\n")
            );
        }
    }
    let array_done = started.elapsed();

    let out = dashboard.wait_with_output().unwrap();
    let frames = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(frames.contains("8 runs"), "{frames}");

    // Every run trained exactly once, by its shard's task: one start, one
    // end, no resume, except the cancelled run, which the requeued task
    // resumed once from its checkpoint.
    let mut task_workers = Vec::new();
    for (task, dirs) in shards.iter().enumerate() {
        let mut workers = std::collections::BTreeSet::new();
        for dir in dirs {
            let lines = log(dir);
            let s = summary(dir).unwrap();
            assert_eq!(s["status"], "done", "{}: {lines:#?}", dir.display());
            let count = |needle: &str| lines.iter().filter(|l| l.contains(needle)).count();
            assert_eq!(count(" started at iteration 0 on "), 1, "{lines:#?}");
            assert_eq!(count(" done at iteration 3000"), 1, "{lines:#?}");
            let resumed: Vec<&String> = lines
                .iter()
                .filter(|l| l.contains(" resumed at "))
                .collect();
            if *dir == first {
                assert_eq!(resumed.len(), 1, "{lines:#?}");
                assert!(!resumed[0].contains(" at iteration 0 "), "{lines:#?}");
                assert_ne!(worker_of(resumed[0]), held_by, "{lines:#?}");
                workers.insert(worker_of(resumed[0]));
            } else {
                assert!(resumed.is_empty(), "{}: {lines:#?}", dir.display());
            }
            for line in lines.iter().filter(|l| l.contains(" at iteration 0 on ")) {
                workers.insert(worker_of(line));
            }
        }
        assert!(
            workers.iter().all(|w| !w.ends_with(&dashboard_worker)),
            "the watching dashboard trained: {workers:?}"
        );
        // Task 0: the cancelled process and the requeued one; others: one.
        assert_eq!(
            workers.len(),
            if task == 0 { 2 } else { 1 },
            "task {task}: {workers:?}"
        );
        task_workers.extend(workers);
    }
    task_workers.sort();
    task_workers.dedup();
    assert_eq!(task_workers.len(), TASKS + 1, "{task_workers:?}");

    // The same spec on one machine: the same report, and the same results
    // eval point for eval point, policy and Q table.
    let single = root.join("single");
    ok(Command::new(&bin)
        .arg("run")
        .arg(&spec_path)
        .arg("--runs")
        .arg(&single)
        .args(["--jobs", "2"]));
    assert_eq!(report(&store), report(&single));
    for dir in shards.iter().flatten() {
        let other = single.join(&spec.name).join(dir.file_name().unwrap());
        assert_eq!(metrics(dir), metrics(&other), "{}", dir.display());
        for file in ["policy.json", "q.npy"] {
            assert!(
                std::fs::read(dir.join(file)).unwrap() == std::fs::read(other.join(file)).unwrap(),
                "{}: {file} differs from the single-machine run",
                dir.display()
            );
        }
    }

    // The dashboard shows what the cluster did.
    let frame = ok(Command::new(&bin)
        .arg("tui")
        .arg(&experiments)
        .arg("--runs")
        .arg(&store)
        .args(["--headless", "--no-autostart", "--size", "120x30"]));
    assert!(
        frame.contains("8 runs") && frame.contains("8 done"),
        "{frame}"
    );
    drop(cluster);
    eprintln!(
        "slurm: cluster up in {:.1} s, array (with a cancel and a requeue) done after {:.1} s, test {:.1} s",
        cluster_started.as_secs_f64(),
        array_done.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}
