//! Measures the log pipeline and the API of the release server, each figure next to its
//! anchor measured in the same run. Not a test: it exits non-zero only when it cannot
//! measure (no server binary, no rclone, a server that does not start), never because a
//! figure is slow.
//!
//! ```sh
//! . scripts/env.sh
//! cargo build --release -p cloudsync-server --bins --examples
//! target/release/examples/log_bench            # everything (about 4 minutes)
//! target/release/examples/log_bench --quick    # smaller sizes, fewer pairs
//! target/release/examples/log_bench --only fast,burst,latency,sync,api
//! target/release/examples/log_bench --only sync --pairs 15   # more pairs than 5
//! target/release/examples/log_bench --only wakeups   # what a run's lines cost the server's CPU
//! target/release/examples/log_bench --only sync --s3-dir /dev/shm   # S3 server's files in memory
//! ```
//!
//! It starts `target/release/cloudsync serve` on a temporary data directory with its
//! embedded PostgreSQL and `rclone serve s3` on a temporary folder, then drives both as a
//! user would: tasks whose pre-script prints lines, followers on their own WebSockets.
//! `log_bench emit RATE SECONDS` is the line source of the latency case (it prints its
//! clock, so a follower can tell how old a line is).

use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

type Socket = WebSocketStream<TcpStream>;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("emit") {
        emit(args[2].parse().expect("RATE"), args[3].parse().expect("SECONDS"));
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let only: Vec<String> = args
        .iter()
        .skip_while(|a| *a != "--only")
        .nth(1)
        .map_or_else(Vec::new, |o| o.split(',').map(str::to_string).collect());
    let pairs: Option<usize> = args.iter().skip_while(|a| *a != "--pairs").nth(1).and_then(|n| n.parse().ok());
    let s3_dir: Option<PathBuf> = args.iter().skip_while(|a| *a != "--s3-dir").nth(1).map(PathBuf::from);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    if let Err(why) = rt.block_on(bench(quick, &only, pairs, s3_dir.as_deref())) {
        eprintln!("log_bench: cannot measure: {why}");
        std::process::exit(2);
    }
}

/// Prints `RATE` lines a second for `SECONDS`, each its send time in ns since the epoch.
fn emit(rate: u64, seconds: u64) {
    let mut out = std::io::stdout().lock();
    let start = Instant::now();
    for i in 0..rate * seconds {
        let due = start + Duration::from_nanos(i * 1_000_000_000 / rate);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let _ = writeln!(out, "{}", now_ns());
        let _ = out.flush();
    }
}

fn now_ns() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_nanos()
}

type Fallible<T> = Result<T, String>;

struct Rig {
    server: Child,
    s3: Child,
    pid: u32,
    addr: SocketAddr,
    token: String,
    credential: i64,
    work: tempfile::TempDir,
    rclone: PathBuf,
    s3_port: u16,
    /// The S3 server's bucket `bench`, in `work` or in the folder `--s3-dir` names.
    bucket: PathBuf,
    /// The S3 server's folder when `--s3-dir` names one (removed with the rig).
    _s3_tmp: Option<tempfile::TempDir>,
}

impl Drop for Rig {
    fn drop(&mut self) {
        // SIGTERM: the server stops its embedded PostgreSQL on the way out.
        unsafe { libc::kill(self.server.id() as i32, libc::SIGTERM) };
        let _ = self.server.wait();
        let _ = self.s3.kill();
        let _ = self.s3.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_for(addr: SocketAddr, child: &mut Child, what: &str) -> Fallible<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(addr).is_ok() {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("{what} exited: {status}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("{what} did not listen on {addr} within 2 minutes"))
}

async fn start(quick: bool, s3_in: Option<&Path>) -> Fallible<Rig> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let bin = exe.parent().and_then(Path::parent).map(|d| d.join("cloudsync")).ok_or("no target dir")?;
    if !bin.exists() {
        return Err(format!("{} is missing: cargo build --release -p cloudsync-server --bins", bin.display()));
    }
    let rclone = PathBuf::from(std::env::var("CLOUDSYNC_TEST_RCLONE").unwrap_or_else(|_| "rclone".into()));
    let work = tempfile::Builder::new().prefix("cloudsync-bench-").tempdir().map_err(|e| e.to_string())?;
    let s3_tmp = match s3_in {
        Some(dir) => Some(
            tempfile::Builder::new()
                .prefix("cloudsync-bench-s3-")
                .tempdir_in(dir)
                .map_err(|e| format!("--s3-dir {}: {e}", dir.display()))?,
        ),
        None => None,
    };
    let s3_dir = s3_tmp.as_ref().map_or_else(|| work.path().join("s3"), |t| t.path().to_path_buf());
    let bucket = s3_dir.join("bench");
    std::fs::create_dir_all(&bucket).map_err(|e| e.to_string())?;
    let s3_port = free_port();
    let mut s3 = Command::new(&rclone)
        .args(["serve", "s3"])
        .arg(&s3_dir)
        .args(["--addr", &format!("127.0.0.1:{s3_port}"), "--auth-key", "bench,benchsecret"])
        .env("RCLONE_CONFIG", "/dev/null")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{} cannot start: {e} (. scripts/env.sh sets CLOUDSYNC_TEST_RCLONE)", rclone.display()))?;
    wait_for(SocketAddr::from(([127, 0, 0, 1], s3_port)), &mut s3, "rclone serve s3")?;
    let port = free_port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let password = "bench-password-1234";
    let mut server = Command::new(&bin)
        .arg("serve")
        .args(["--listen", &addr.to_string(), "--data-dir"])
        .arg(work.path().join("data"))
        .arg("--rclone")
        .arg(&rclone)
        .args(["--max-log-lines", "5000000"])
        .env("CLOUDSYNC_ADMIN_PASSWORD", password)
        .env("CLOUDSYNC_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("{} cannot start: {e}", bin.display()))?;
    let pid = server.id();
    wait_for(addr, &mut server, "cloudsync serve")?;
    let mut rig = Rig {
        server,
        s3,
        pid,
        addr,
        token: String::new(),
        credential: 0,
        work,
        rclone,
        s3_port,
        bucket,
        _s3_tmp: s3_tmp,
    };
    let mut c = connect(addr, 0).await?;
    let session = call(&mut c, "auth.login", json!({"username": "admin", "password": password})).await?;
    rig.token = session["token"].as_str().ok_or("no token")?.to_string();
    let cred = call(
        &mut c,
        "credential.create",
        json!({"name": "bench s3", "provider": "s3", "attributes": {
            "provider": "Rclone", "endpoint": format!("http://127.0.0.1:{s3_port}"),
            "access_key_id": "bench", "secret_access_key": "benchsecret"}}),
    )
    .await?;
    rig.credential = cred["id"].as_i64().ok_or("no credential id")?;
    let _ = quick;
    Ok(rig)
}

/// A WebSocket to the server from 127.0.0.`2 + group`: the server allows 32 sockets per
/// client address, and the whole of 127/8 is this machine.
async fn connect(addr: SocketAddr, group: u8) -> Fallible<Socket> {
    let socket = TcpSocket::new_v4().map_err(|e| e.to_string())?;
    socket.bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + group)), 0)).map_err(|e| e.to_string())?;
    let stream = socket.connect(addr).await.map_err(|e| format!("connect: {e}"))?;
    let (ws, _) = tokio_tungstenite::client_async(format!("ws://{addr}/api/ws"), stream)
        .await
        .map_err(|e| format!("websocket: {e}"))?;
    Ok(ws)
}

/// A socket authenticated with the admin's session. Each comes from the next of a
/// rotating set of loopback addresses, 25 to an address, so no address ever nears the
/// server's per-client limit even while earlier sockets are still closing.
async fn logged_in(rig: &Rig, _group: u8) -> Fallible<Socket> {
    static OPENED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = OPENED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut ws = connect(rig.addr, (1 + (n / 25) % 250) as u8).await?;
    call(&mut ws, "auth.resume", json!({"token": rig.token})).await?;
    Ok(ws)
}

static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

async fn send(ws: &mut Socket, method: &str, params: Value) -> Fallible<u64> {
    let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let text = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string();
    ws.send(Message::text(text)).await.map_err(|e| e.to_string())?;
    Ok(id)
}

async fn next_message(ws: &mut Socket) -> Fallible<Value> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => return serde_json::from_str(t.as_str()).map_err(|e| e.to_string()),
            Some(Ok(Message::Close(_))) | None => return Err("the server closed the socket".into()),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e.to_string()),
        }
    }
}

/// Calls and waits for the answer; notifications on the way are dropped.
async fn call(ws: &mut Socket, method: &str, params: Value) -> Fallible<Value> {
    let id = send(ws, method, params).await?;
    loop {
        let m = next_message(ws).await?;
        if m["id"] == json!(id) {
            if let Some(e) = m.get("error") {
                return Err(format!("{method}: {e}"));
            }
            return Ok(m["result"].clone());
        }
    }
}

/// Peak and last RSS of `pid` in KiB, sampled every 10 ms until stopped.
struct RssWatch {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handle: std::thread::JoinHandle<u64>,
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// CPU time so far, in ms: the server's own, the rclone processes it started and waited
/// for, and every `postgres` process (the embedded database).
#[derive(Clone, Copy, Default)]
struct Cpu {
    server: f64,
    rclone: f64,
    database: f64,
    /// The server's threads' context switches.
    switches: f64,
}

impl Cpu {
    fn now(server_pid: u32) -> Cpu {
        // SAFETY: sysconf only reads a constant.
        let tick_ms = 1000.0 / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        // Fields after the command's closing parenthesis: utime is the 12th, cstime the 15th.
        let fields = |pid: &str| -> Option<(String, Vec<f64>)> {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let (head, tail) = stat.rsplit_once(')')?;
            let comm = head.split_once('(')?.1.to_string();
            let nums = tail.split_whitespace().skip(11).take(4).map(|n| n.parse().unwrap_or(0.0) * tick_ms).collect();
            Some((comm, nums))
        };
        let mut cpu = Cpu::default();
        if let Some((_, n)) = fields(&server_pid.to_string()) {
            (cpu.server, cpu.rclone) = (n[0] + n[1], n[2] + n[3]);
        }
        for t in std::fs::read_dir(format!("/proc/{server_pid}/task")).into_iter().flatten().flatten() {
            let status = std::fs::read_to_string(t.path().join("status")).unwrap_or_default();
            for l in status.lines() {
                let n = l
                    .strip_prefix("voluntary_ctxt_switches:")
                    .or_else(|| l.strip_prefix("nonvoluntary_ctxt_switches:"));
                cpu.switches += n.and_then(|v| v.trim().parse::<f64>().ok()).unwrap_or(0.0);
            }
        }
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some((comm, n)) = name.parse::<u32>().ok().and_then(|_| fields(&name)) {
                if comm == "postgres" {
                    cpu.database += n[0] + n[1] + n[2] + n[3];
                }
            }
        }
        cpu
    }

    fn since(self, before: Cpu) -> Cpu {
        Cpu {
            server: self.server - before.server,
            rclone: self.rclone - before.rclone,
            database: self.database - before.database,
            switches: self.switches - before.switches,
        }
    }
}

/// CPU time (ms) of the processes this program started and waited for.
fn children_cpu_ms() -> f64 {
    // SAFETY: getrusage writes into the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    let ms = |t: libc::timeval| t.tv_sec as f64 * 1000.0 + t.tv_usec as f64 / 1000.0;
    ms(usage.ru_utime) + ms(usage.ru_stime)
}

impl RssWatch {
    fn start(pid: u32) -> RssWatch {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut peak = 0;
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(rss_kib(pid));
                std::thread::sleep(Duration::from_millis(10));
            }
            peak
        });
        RssWatch { stop, handle }
    }

    fn peak_mib(self) -> f64 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.handle.join().unwrap_or(0) as f64 / 1024.0
    }
}

async fn make_task(
    rig: &Rig,
    c: &mut Socket,
    name: &str,
    path: &Path,
    folder: &str,
    pre_script: &str,
    deletion_guard: bool,
) -> Fallible<i64> {
    std::fs::create_dir_all(path).map_err(|e| e.to_string())?;
    // The guard (the default) runs the sync as a dry run and `rclone size` first.
    let max_delete_percent = if deletion_guard { json!(50) } else { json!(null) };
    let t = call(
        c,
        "task.create",
        json!({"description": name, "credentials": rig.credential, "direction": "PUSH", "transfer_mode": "SYNC",
               "path": path, "attributes": {"bucket": "bench", "folder": folder}, "pre_script": pre_script,
               "max_delete_percent": max_delete_percent, "enabled": false}),
    )
    .await?;
    t["id"].as_i64().ok_or_else(|| "no task id".to_string())
}

/// What one follower saw.
#[derive(Default)]
struct Seen {
    lines: u64,
    duplicates: u64,
    gaps: u64,
    done_at: Option<Instant>,
    /// Ages in µs of lines that carry an `emit` clock.
    ages_us: Vec<u64>,
}

/// Follows run `run_id` from the start until its final state.
async fn follower(mut ws: Socket, run_id: i64) -> Fallible<Seen> {
    let id = send(&mut ws, "run.follow", json!({"id": run_id, "after_seq": 0})).await?;
    let mut seen = Seen::default();
    let mut last = 0i64;
    loop {
        let m = next_message(&mut ws).await?;
        if m["id"] == json!(id) {
            if let Some(e) = m.get("error") {
                return Err(format!("run.follow: {e}"));
            }
            continue;
        }
        match m["method"].as_str() {
            Some("run.log") => {
                let now = now_ns();
                for l in m["params"]["lines"].as_array().into_iter().flatten() {
                    let seq = l["seq"].as_i64().unwrap_or(0);
                    if seq <= last {
                        seen.duplicates += 1;
                        continue;
                    }
                    if seq != last + 1 {
                        seen.gaps += 1;
                    }
                    last = seq;
                    seen.lines += 1;
                    if l["source"] == "pre_script" {
                        if let Ok(sent) = l["message"].as_str().unwrap_or("").parse::<u128>() {
                            if sent > 1_000_000_000_000_000_000 {
                                seen.ages_us.push((now.saturating_sub(sent) / 1000) as u64);
                            }
                        }
                    }
                }
            }
            Some("run.state") => {
                let state = m["params"]["state"].as_str().unwrap_or("");
                if !matches!(state, "QUEUED" | "RUNNING") {
                    seen.done_at = Some(Instant::now());
                    return Ok(seen);
                }
            }
            Some("run.lagged") => return Err("a follower was told it lagged".into()),
            _ => {}
        }
    }
}

/// Waits on an `events.subscribe` socket for the end of `run_id`; when it came.
async fn watch_end(mut ws: Socket, run_id: i64) -> Fallible<(Instant, String)> {
    loop {
        let m = next_message(&mut ws).await?;
        if m["method"] == "run.state" && m["params"]["run_id"] == json!(run_id) {
            let state = m["params"]["state"].as_str().unwrap_or("").to_string();
            if !matches!(state.as_str(), "QUEUED" | "RUNNING") {
                return Ok((Instant::now(), state));
            }
        }
    }
}

struct RunResult {
    wall: Duration,
    ended: Instant,
    state: String,
    followers: Vec<Seen>,
    rss_peak_mib: f64,
    run: Value,
    cpu: Cpu,
}

/// Runs `task` once with `followers` following it and, with `watch_rss`, the server's
/// RSS read every 10 ms (not while timing a sync: that costs the machine a little).
async fn run_once(rig: &Rig, c: &mut Socket, task: i64, followers: usize, watch_rss: bool) -> Fallible<RunResult> {
    let mut watcher = logged_in(rig, 0).await?;
    call(&mut watcher, "events.subscribe", json!({})).await?;
    let rss = watch_rss.then(|| RssWatch::start(rig.pid));
    let cpu_before = Cpu::now(rig.pid);
    let started = Instant::now();
    let run_id = call(c, "task.run", json!({"id": task})).await?["run_id"].as_i64().ok_or("no run id")?;
    let end = tokio::spawn(watch_end(watcher, run_id));
    let mut handles = Vec::new();
    for i in 0..followers {
        let ws = logged_in(rig, 1 + (i / 30) as u8).await?;
        handles.push(tokio::spawn(follower(ws, run_id)));
    }
    let (ended, state) = end.await.map_err(|e| e.to_string())??;
    let wall = ended - started;
    let mut seen = Vec::new();
    for h in handles {
        seen.push(h.await.map_err(|e| e.to_string())??);
    }
    let rss_peak_mib = rss.map_or(0.0, RssWatch::peak_mib);
    let cpu = Cpu::now(rig.pid).since(cpu_before);
    let run = call(c, "run.get", json!({"id": run_id})).await?;
    Ok(RunResult { wall, ended, state, followers: seen, rss_peak_mib, run, cpu })
}

/// 3b. (Only with `--only wakeups`.) What the server's CPU for a run's lines is made of:
/// a 4 s run with no lines, with 3 000 lines written at once (a few reads), and with the
/// same lines one write each (a wake-up each, as rclone writes them), twice each.
async fn wakeup_rows(rig: &Rig, c: &mut Socket) -> Fallible<()> {
    println!("\n## Server CPU of a 4 s run's lines: none, 3 000 written at once, 3 000 one write each");
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let empty = rig.work.path().join("wakeups-empty");
    let cases = [
        ("no lines", "#!/bin/sh\nsleep 4\n".to_string()),
        ("3 000 lines at once", "#!/bin/sh\nseq 1 3000\nsleep 4\n".to_string()),
        ("3 000 lines, one write each over 4 s", format!("#!/bin/sh\nexec '{}' emit 750 4\n", exe.display())),
    ];
    for (what, script) in cases.iter().chain(cases.iter()) {
        let task = make_task(rig, c, &format!("wakeups {what}"), &empty, "wakeups", script, false).await?;
        let r = run_once(rig, c, task, 0, false).await?;
        if r.state != "SUCCESS" {
            return Err(format!("the run with {what} ended {}: {}", r.state, r.run["error"]));
        }
        println!(
            "{what:>37}: server CPU {:.0} ms ({:.0} context switches), database {:.0} ms",
            r.cpu.server, r.cpu.switches, r.cpu.database
        );
    }
    Ok(())
}

/// 4. Real syncs against bare rclone: for each data set, with the deletion guard off
/// (the same rclone command) and on (the default: a dry run first), `pairs` pairs.
async fn sync_rows(rig: &Rig, c: &mut Socket, pairs: usize) -> Fallible<()> {
    println!("\n## PUSH SYNC to rclone serve s3: cloudsync vs bare `rclone sync`, same flags, alternating");
    println!("(the S3 server's files in {})", rig.bucket.display());
    for (files, size) in [(300usize, 256 * 1024usize), (3000, 4 * 1024)] {
        let src = rig.work.path().join(format!("data-{files}"));
        write_data(&src, files, size)?;
        for guard in [false, true] {
            let (mut ratios, mut bare_all, mut ours_all, mut steps_all) = (vec![], vec![], vec![], vec![]);
            let (mut bare_cpu, mut ours_cpu, mut written) = (vec![], vec![], vec![]);
            for pair in 0..pairs {
                let folder = format!("sync-{files}-{guard}-{pair}");
                let task = make_task(rig, c, &folder, &src, &format!("ours-{folder}"), "", guard).await?;
                // Each starts with no dirty pages of the other's writes to flush, and which
                // goes first alternates: neither always runs in the other's wake.
                let bare_run = || {
                    flush_disks();
                    bare_sync(rig, &src, &format!("bare-{folder}"))
                };
                let bare_first = if pair % 2 == 0 { Some(bare_run()?) } else { None };
                flush_disks();
                let ours = run_once(rig, c, task, 0, false).await?;
                let (bare, cpu) = match bare_first {
                    Some(b) => b,
                    None => bare_run()?,
                };
                if ours.state != "SUCCESS" {
                    return Err(format!("the cloudsync sync ended {}: {}", ours.state, ours.run["error"]));
                }
                steps_all.push(steps(c, &ours).await?);
                ratios.push(ours.wall.as_secs_f64() / bare.as_secs_f64());
                bare_cpu.push(cpu);
                ours_cpu.push(ours.cpu);
                bare_all.push(bare);
                ours_all.push(ours.wall);
                written.extend([format!("bare-{folder}"), format!("ours-{folder}")]);
            }
            forget(rig, &written);
            let each: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
            ratios.sort_by(f64::total_cmp);
            bare_all.sort();
            ours_all.sort();
            let variant =
                if guard { "default deletion guard (dry run + size first)" } else { "deletion guard off (same flags)" };
            let (confidence, low, high) = median_interval(&ratios);
            println!(
                "{files:>5} × {:>3} KiB, {variant}: bare rclone median {}, cloudsync median {}, median ratio {:.3}× over {pairs} pairs ({:.0} % interval of the median {low:.3}–{high:.3})",
                size / 1024,
                ms(bare_all[pairs / 2]),
                ms(ours_all[pairs / 2]),
                ratios[pairs / 2],
                confidence * 100.0
            );
            println!("      each pair's ratio, in order: {}", each.join(" "));
            let median = |mut v: Vec<f64>| {
                v.sort_by(f64::total_cmp);
                v[v.len() / 2]
            };
            let step = |i: usize| median(steps_all.iter().map(|s: &[f64; 6]| s[i]).collect());
            println!(
                "      cloudsync's time (median ms): queue {:.0}, load and checks {:.0}, rclone's start {:.0}, rclone's lines {:.0}, recording the end {:.0}, call and events {:.0}",
                step(0), step(1), step(2), step(3), step(4), step(5)
            );
            println!(
                "      CPU (median ms): bare rclone {:.0}; cloudsync's rclone processes {:.0}, server {:.0} ({:.0} context switches), database {:.0}",
                median(bare_cpu),
                median(ours_cpu.iter().map(|c| c.rclone).collect()),
                median(ours_cpu.iter().map(|c| c.server).collect()),
                median(ours_cpu.iter().map(|c| c.switches).collect()),
                median(ours_cpu.iter().map(|c| c.database).collect()),
            );
            if !guard {
                let (mut same, mut written) = (Vec::new(), Vec::new());
                for pair in 0..pairs {
                    let folders = [format!("same-{files}-{pair}-a"), format!("same-{files}-{pair}-b")];
                    flush_disks();
                    let (first, _) = bare_sync(rig, &src, &folders[0])?;
                    flush_disks();
                    let (second, _) = bare_sync(rig, &src, &folders[1])?;
                    same.push(second.as_secs_f64() / first.as_secs_f64());
                    written.extend(folders);
                }
                forget(rig, &written);
                same.sort_by(f64::total_cmp);
                let (confidence, low, high) = median_interval(&same);
                println!(
                    "      anchor, two bare runs of the same sync (this machine's noise): median ratio {:.3}× over {pairs} pairs ({:.0} % interval {low:.3}–{high:.3}), pairs {:.2}–{:.2}",
                    same[pairs / 2],
                    confidence * 100.0,
                    same[0],
                    same[pairs - 1]
                );
            }
        }
    }
    Ok(())
}

/// Removes a measured variant's folders from the S3 server, so that they do not pile up
/// (in memory, with `--s3-dir /dev/shm`), and lets the disk settle. Not between pairs:
/// on this machine's ext4 (mounted with `discard`) the run after removing a pair's
/// 6 000 files took ~1.3× as long as the one after it, and the pairs' ratios swung
/// with which of the two went first (0.65× and 1.8× in turn).
fn forget(rig: &Rig, folders: &[String]) {
    for f in folders {
        let _ = std::fs::remove_dir_all(rig.bucket.join(f));
    }
    flush_disks();
    std::thread::sleep(Duration::from_secs(3));
}

/// `(confidence, low, high)`: an interval of `sorted` values that holds the true median
/// with at least that confidence, whatever the values' distribution (order statistics:
/// the chance that fewer than k of n values fall below the median is binomial). 96.5 %
/// for 15 values (the 4th to the 12th); for 5 the smallest and largest, at 93.8 %.
fn median_interval(sorted: &[f64]) -> (f64, f64, f64) {
    let n = sorted.len();
    let choose = |i: usize| (0..i).fold(1.0, |acc, j| acc * (n - j) as f64 / (j + 1) as f64);
    let below = |k: usize| (0..k).map(choose).sum::<f64>() / 2f64.powi(n as i32);
    let mut k = 1;
    while k < n / 2 && below(k + 1) <= 0.025 {
        k += 1;
    }
    (1.0 - 2.0 * below(k), sorted[k - 1], sorted[n - k])
}

/// `files` files of `size` pseudo-random bytes (the same bytes every time) in `dir`.
fn write_data(dir: &Path, files: usize, size: usize) -> Fallible<()> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let mut seed = 0x2545F4914F6CDD1Du64;
    for i in 0..files {
        let bytes: Vec<u8> = (0..size)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        std::fs::write(dir.join(format!("f{i:05}.bin")), bytes).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Where a run's time went, from its record and its log's timestamps (server clock), in
/// ms: queued → started, started → "starting rclone" (loading, checks), → rclone's first
/// line, → its last line, → finished, and the rest of `wall` (the call, the events).
async fn steps(c: &mut Socket, r: &RunResult) -> Fallible<[f64; 6]> {
    let at = |v: &Value| {
        time::OffsetDateTime::parse(v.as_str().unwrap_or(""), &time::format_description::well_known::Rfc3339)
            .map_err(|e| format!("{v}: {e}"))
    };
    let log = call(c, "run.log", json!({"id": r.run["id"], "limit": 10000})).await?;
    let lines = log.as_array().ok_or("no log")?;
    let starting = lines.iter().find(|l| l["message"].as_str().is_some_and(|m| m.starts_with("starting rclone")));
    let rclone: Vec<&Value> = lines.iter().filter(|l| l["source"] == "rclone").collect();
    let (Some(starting), Some(first), Some(last)) = (starting, rclone.first(), rclone.last()) else {
        return Err("the run's log has no rclone lines".into());
    };
    let times = [
        at(&r.run["queued_at"])?,
        at(&r.run["started_at"])?,
        at(&starting["at"])?,
        at(&first["at"])?,
        at(&last["at"])?,
        at(&r.run["finished_at"])?,
    ];
    let mut out = [0.0; 6];
    for i in 0..5 {
        out[i] = (times[i + 1] - times[i]).as_seconds_f64() * 1000.0;
    }
    out[5] = r.wall.as_secs_f64() * 1000.0 - (times[5] - times[0]).as_seconds_f64() * 1000.0;
    Ok(out)
}

/// The `at` of the first and last pre-script line: how fast lines went into the store.
async fn script_pace(c: &mut Socket, run_id: i64, lines: u64) -> Fallible<f64> {
    let first = call(c, "run.log", json!({"id": run_id, "after_seq": 0, "limit": 20})).await?;
    let first = first.as_array().and_then(|a| a.iter().find(|l| l["source"] == "pre_script")).cloned();
    let first = first.ok_or("no pre-script line")?;
    let first_seq = first["seq"].as_i64().unwrap_or(0);
    let last_seq = first_seq + lines as i64 - 1;
    let last = call(c, "run.log", json!({"id": run_id, "after_seq": last_seq - 1, "limit": 1})).await?;
    let last = last.get(0).cloned().ok_or("no last line")?;
    let at = |l: &Value| {
        time::OffsetDateTime::parse(l["at"].as_str().unwrap_or(""), &time::format_description::well_known::Rfc3339)
    };
    let span = (at(&last).map_err(|e| e.to_string())? - at(&first).map_err(|e| e.to_string())?).as_seconds_f64();
    Ok(lines as f64 / span.max(1e-6))
}

/// Lines a second when the same `seq` writes into a pipe read line by line and dropped.
fn pipe_ceiling(lines: u64) -> f64 {
    use std::io::BufRead;
    let started = Instant::now();
    let mut child =
        Command::new("/bin/sh").args(["-c", &format!("seq 1 {lines}")]).stdout(Stdio::piped()).spawn().unwrap();
    let mut n = 0u64;
    for _ in std::io::BufReader::new(child.stdout.take().unwrap()).lines() {
        n += 1;
    }
    let _ = child.wait();
    n as f64 / started.elapsed().as_secs_f64()
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

async fn bench(quick: bool, only: &[String], pairs: Option<usize>, s3_dir: Option<&Path>) -> Fallible<()> {
    let wanted = |case: &str| only.is_empty() || only.iter().any(|o| o == case);
    let rig = start(quick, s3_dir).await?;
    let mut c = logged_in(&rig, 0).await?;
    println!("cloudsync log_bench — {} (server pid {}, rclone serve s3 on :{})", today(), rig.pid, rig.s3_port);
    println!("server RSS at rest: {:.1} MiB", rss_kib(rig.pid) as f64 / 1024.0);

    let empty = rig.work.path().join("empty");
    if wanted("fast") {
        // 1. Memory and storage pace of a fast child, with and without followers.
        println!("\n## Fast child (`seq 1 N` as pre-script), release server");
        let sizes: &[u64] = if quick { &[100_000, 300_000] } else { &[100_000, 1_000_000] };
        // Every size without followers first: the allocator keeps the heap a run with
        // followers grew, so a run after it would show that run's peak, not its own.
        for followers in [0usize, 10] {
            for &n in sizes {
                let task =
                    make_task(&rig, &mut c, &format!("seq {n}"), &empty, "seq", &format!("seq 1 {n}\n"), true).await?;
                let r = run_once(&rig, &mut c, task, followers, true).await?;
                let run_id = r.run["id"].as_i64().unwrap_or(0);
                let pace = script_pace(&mut c, run_id, n).await?;
                let complete = r.followers.iter().all(|s| s.duplicates == 0 && s.gaps == 0);
                let lag =
                    r.followers.iter().filter_map(|s| s.done_at).max().map(|d| d.saturating_duration_since(r.ended));
                println!(
                "{n:>9} lines, {followers:>2} followers: {} in {}, server RSS peak {:.1} MiB, stored {:.0} lines/s{}",
                r.state,
                ms(r.wall),
                r.rss_peak_mib,
                pace,
                match lag {
                    Some(l) => format!(
                        ", last follower done {} after the run ended, every line once: {}",
                        ms(l),
                        if complete { "yes" } else { "NO" }
                    ),
                    None => String::new(),
                }
            );
            }
        }
        for &n in sizes {
            println!("{n:>9} lines into a pipe read by line and dropped (ceiling): {:.0} lines/s", pipe_ceiling(n));
        }
    }
    if wanted("burst") {
        // 2. A burst with ten followers.
        println!("\n## Burst: 200 000 lines, 10 followers");
        let task = make_task(&rig, &mut c, "burst", &empty, "burst", "seq 1 200000\n", true).await?;
        let r = run_once(&rig, &mut c, task, 10, true).await?;
        let lag = r.followers.iter().filter_map(|s| s.done_at).max().map(|d| d.saturating_duration_since(r.ended));
        let once = r.followers.iter().all(|s| s.duplicates == 0 && s.gaps == 0 && s.lines >= 200_000);
        println!(
            "last follower done {} after the run ended (run {}), every line exactly once: {}",
            lag.map(ms).unwrap_or_else(|| "-".into()),
            ms(r.wall),
            if once { "yes" } else { "NO" }
        );
    }
    if wanted("latency") {
        // 3. Delivery latency at a steady rate.
        println!("\n## Delivery latency at 2 000 lines/s for 10 s (line written by the child → parsed by a follower)");
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let seconds = if quick { 4 } else { 10 };
        let script = format!("#!/bin/sh\nexec '{}' emit 2000 {seconds}\n", exe.display());
        for followers in [1usize, 10, 50] {
            let task = make_task(&rig, &mut c, &format!("steady {followers}"), &empty, "steady", &script, true).await?;
            let r = run_once(&rig, &mut c, task, followers, true).await?;
            let mut ages: Vec<u64> = r.followers.iter().flat_map(|s| s.ages_us.iter().copied()).collect();
            ages.sort_unstable();
            println!(
                "{followers:>2} followers: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {} deliveries",
                percentile(&ages, 0.5) as f64 / 1000.0,
                percentile(&ages, 0.99) as f64 / 1000.0,
                ages.last().copied().unwrap_or(0) as f64 / 1000.0,
                ages.len()
            );
        }
    }
    if only.iter().any(|o| o == "wakeups") {
        wakeup_rows(&rig, &mut c).await?;
    }
    if wanted("sync") {
        sync_rows(&rig, &mut c, pairs.unwrap_or(if quick { 3 } else { 5 }).max(1)).await?;
    }
    if wanted("api") {
        // 5. The API under many tasks and many sockets.
        println!("\n## API");
        for target in [1000usize, 10_000] {
            let todo = target.saturating_sub(count_tasks(&mut c).await?);
            create_tasks(&rig, todo).await?;
            let mut times = Vec::new();
            let mut bytes = 0;
            for _ in 0..20 {
                let t = Instant::now();
                let v = call(&mut c, "task.list", json!({})).await?;
                times.push(t.elapsed().as_micros() as u64);
                bytes = v.to_string().len();
            }
            times.sort_unstable();
            println!(
                "task.list with {} tasks: p50 {:.1} ms, p99 {:.1} ms ({} KiB of JSON)",
                count_tasks(&mut c).await?,
                percentile(&times, 0.5) as f64 / 1000.0,
                percentile(&times, 0.99) as f64 / 1000.0,
                bytes / 1024
            );
        }
        let sockets = 500usize;
        let mut open = Vec::new();
        for i in 0..sockets {
            open.push(logged_in(&rig, 1 + (i / 30) as u8).await?);
        }
        let gate = std::sync::Arc::new(tokio::sync::Barrier::new(sockets));
        let mut handles = Vec::new();
        for mut ws in open {
            let gate = gate.clone();
            handles.push(tokio::spawn(async move {
                gate.wait().await;
                let t = Instant::now();
                let r = call(&mut ws, "run.list", json!({"limit": 10})).await;
                r.map(|_| t.elapsed().as_micros() as u64)
            }));
        }
        let mut times = Vec::new();
        for h in handles {
            times.push(h.await.map_err(|e| e.to_string())??);
        }
        times.sort_unstable();
        println!(
        "{sockets} authenticated sockets calling run.list at once: p50 {:.1} ms, p99 {:.1} ms; server RSS now {:.1} MiB",
        percentile(&times, 0.5) as f64 / 1000.0,
        percentile(&times, 0.99) as f64 / 1000.0,
        rss_kib(rig.pid) as f64 / 1024.0
    );
    }
    // 6. The web app's size as built (scripts/build-app).
    println!("\n## Web app");
    match wasm_gz_size() {
        Some((path, size)) => println!("first-screen module {}: {} KB gzipped", path.display(), size / 1000),
        None => println!("not built (scripts/build-app): no size"),
    }
    Ok(())
}

async fn count_tasks(c: &mut Socket) -> Fallible<usize> {
    Ok(call(c, "task.list", json!({})).await?.as_array().map_or(0, Vec::len))
}

/// Creates `n` tasks over 8 sockets, 16 requests in flight on each.
async fn create_tasks(rig: &Rig, n: usize) -> Fallible<()> {
    let path = rig.work.path().join("many");
    std::fs::create_dir_all(&path).map_err(|e| e.to_string())?;
    let mut handles = Vec::new();
    for s in 0..8usize {
        let mut ws = logged_in(rig, 1).await?;
        let (path, credential) = (path.clone(), rig.credential);
        let mine: Vec<usize> = (0..n).filter(|i| i % 8 == s).collect();
        handles.push(tokio::spawn(async move {
            let mut waiting: HashMap<u64, ()> = HashMap::new();
            let mut next = mine.into_iter();
            loop {
                while waiting.len() < 16 {
                    let Some(i) = next.next() else { break };
                    let id = send(
                        &mut ws,
                        "task.create",
                        json!({"description": format!("many {i}"), "credentials": credential, "direction": "PUSH",
                               "transfer_mode": "COPY", "path": path, "attributes": {"bucket": "bench", "folder": format!("m{i}")},
                               "schedule": {"minute": "0", "hour": "3", "dom": "*", "month": "*", "dow": "*", "begin": "00:00", "end": "23:59"}}),
                    )
                    .await?;
                    waiting.insert(id, ());
                }
                if waiting.is_empty() {
                    return Ok::<(), String>(());
                }
                let m = next_message(&mut ws).await?;
                if let Some(id) = m["id"].as_u64() {
                    if let Some(e) = m.get("error") {
                        return Err(format!("task.create: {e}"));
                    }
                    waiting.remove(&id);
                }
            }
        }));
    }
    for h in handles {
        h.await.map_err(|e| e.to_string())??;
    }
    Ok(())
}

/// Writes every dirty page out, so a timed run does not pay for the previous run's writes.
fn flush_disks() {
    // SAFETY: sync(2) takes no arguments and cannot fail.
    unsafe { libc::sync() };
}

/// `rclone sync` with the flags cloudsync gives a PUSH SYNC task (`runner::sync::build`),
/// the remote from the environment as cloudsync passes it.
fn bare_sync(rig: &Rig, src: &Path, folder: &str) -> Fallible<(Duration, f64)> {
    let cpu_before = children_cpu_ms();
    let started = Instant::now();
    let status = Command::new(&rig.rclone)
        .arg("sync")
        .arg(src)
        .arg(format!("bench:bench/{folder}"))
        .args(["--use-json-log", "--stats", "1s", "--stats-log-level", "NOTICE", "-v", "--transfers", "4"])
        .args(["--filter", "- /.cloudsync-deleted/**"])
        .env("RCLONE_CONFIG", "/dev/null")
        .env("RCLONE_CONFIG_BENCH_TYPE", "s3")
        .env("RCLONE_CONFIG_BENCH_PROVIDER", "Rclone")
        .env("RCLONE_CONFIG_BENCH_ENDPOINT", format!("http://127.0.0.1:{}", rig.s3_port))
        .env("RCLONE_CONFIG_BENCH_ACCESS_KEY_ID", "bench")
        .env("RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY", "benchsecret")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!("bare rclone sync failed: {status}"));
    }
    Ok((started.elapsed(), children_cpu_ms() - cpu_before))
}

fn wasm_gz_size() -> Option<(PathBuf, u64)> {
    let exe = std::env::current_exe().ok()?;
    let site = exe.parent()?.parent()?.parent()?.join("site/pkg");
    for dir in std::fs::read_dir(&site).ok()?.flatten() {
        for f in std::fs::read_dir(dir.path()).ok()?.flatten() {
            let p = f.path();
            if p.file_name().is_some_and(|n| n == "cloudsync_app_bg.wasm.gz") {
                let size = f.metadata().ok()?.len();
                return Some((p, size));
            }
        }
    }
    None
}

fn today() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!("{}-{:02}-{:02}", now.year(), u8::from(now.month()), now.day())
}
