//! The Lever section in a real browser: headless Chromium (Debian's `chromium` and
//! `chromium-driver`) over WebDriver (fantoccini), against `xor-lever dev --keep-running`, as a
//! Super Admin walks it: the invitation link → "Not connected" → Connect → the note → its Connect
//! → Lever's consent page (the sandbox's) → "Connected" → the synced jobs with their chatbot and
//! webchat links → a waiting delivery → Replay → sent. Each step is saved as a screenshot (the
//! folder is printed), and each page state is checked with axe-core (no serious or critical
//! violation). `infra/scripts/test` installs Chromium, chromedriver and axe-core when missing.
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};

struct KillOnDrop(Child);
impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `xor-lever dev --keep-running` in a fresh state dir; its stdout lines arrive on the channel.
fn start_dev(state: &Path) -> (KillOnDrop, std::sync::mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_xor-lever"))
        .args(["--state-dir", state.to_str().unwrap(), "dev", "--keep-running"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("xor-lever dev starts");
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            println!("dev | {line}");
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (KillOnDrop(child), rx)
}

fn wait_line(rx: &std::sync::mpsc::Receiver<String>, needle: &str) -> String {
    loop {
        let line = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_else(|_| panic!("dev never printed {needle}"));
        if line.contains(needle) {
            return line;
        }
    }
}

async fn start_browser() -> (KillOnDrop, Client) {
    let port = free_port();
    let driver = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver (Debian's chromium-driver) is installed: infra/scripts/test installs it");
    let driver = KillOnDrop(driver);
    let caps: serde_json::Map<String, serde_json::Value> = serde_json::from_value(serde_json::json!({
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000", "--lang=en-US"]
        }
    }))
    .unwrap();
    for _ in 0..100 {
        if let Ok(c) = ClientBuilder::rustls()
            .unwrap()
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            return (driver, c);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not answer on port {port}");
}

struct Run {
    c: Client,
    shots: PathBuf,
    n: usize,
    axe: String,
}

impl Run {
    async fn shot(&mut self, name: &str) {
        self.n += 1;
        let png = self.c.screenshot().await.unwrap();
        std::fs::write(self.shots.join(format!("{:02}-{name}.png", self.n)), png).unwrap();
    }

    /// axe-core in the page: the serious and critical violations, if any.
    async fn accessible(&self, state: &str) {
        self.c.execute(&format!("{}\nreturn true;", self.axe), vec![]).await.unwrap();
        let found = self
            .c
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, { resultTypes: ['violations'] }).then(r => done(r.violations
                   .filter(v => v.impact === 'serious' || v.impact === 'critical')
                   .map(v => v.id + ' (' + v.impact + '): ' + v.help + ' at ' + v.nodes.map(n => n.target.join(' ')).join(', '))));",
                vec![],
            )
            .await
            .unwrap();
        let found: Vec<String> = serde_json::from_value(found).unwrap();
        assert!(found.is_empty(), "axe in state {state}:\n{}", found.join("\n"));
    }

    /// Waits for `css`; on a timeout, says where the browser is instead.
    async fn wait_for(&self, css: &str) {
        if self.c.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css(css)).await.is_err() {
            let url = self.c.current_url().await.map(|u| u.to_string()).unwrap_or_default();
            let body = self.c.source().await.unwrap_or_default();
            panic!("{css} never appeared; the browser is at {url}:\n{}", &body[..body.len().min(3000)]);
        }
    }

    /// The element's text; found again if the page changed under it (a navigation landing).
    async fn text(&self, css: &str) -> String {
        for _ in 0..20 {
            if let Ok(e) = self.c.find(Locator::Css(css)).await
                && let Ok(t) = e.text().await
            {
                return t;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{css}: no text (the element never settled)");
    }

    async fn status(&self) -> String {
        let e = self.c.find(Locator::Css("#status")).await.unwrap();
        e.attr("data-status").await.unwrap().unwrap_or_default()
    }

    /// Reloads until `css` matches `count` elements (the dev run works on in the background).
    async fn reload_until(&self, css: &str, count: usize) {
        for _ in 0..100 {
            if self.c.find_all(Locator::Css(css)).await.unwrap().len() == count {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            self.c.refresh().await.unwrap();
        }
        panic!("{css} never matched {count} elements");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_super_admin_connects_sees_the_jobs_and_replays_a_waiting_candidate() {
    let axe_path = repo().join("tests/browser/node_modules/axe-core/axe.min.js");
    let axe = std::fs::read_to_string(&axe_path)
        .unwrap_or_else(|_| panic!("{} (npm ci --prefix tests/browser)", axe_path.display()));
    let state = tempfile::tempdir().unwrap();
    let (_dev, lines) = start_dev(state.path());
    let link_line = wait_line(&lines, "/connections/demo?invitation=");
    let link = link_line.trim().to_owned();
    let (_driver, c) = start_browser().await;
    let shots = repo().join("target/browser-artifacts").join(format!("section-{}", std::process::id()));
    std::fs::create_dir_all(&shots).unwrap();
    println!("screenshots: {}", shots.display());
    let mut run = Run { c, shots, n: 0, axe };

    // 1. The invitation link: the section, not connected; the token left the address bar.
    run.c.goto(&link).await.unwrap();
    assert_eq!(run.status().await, "pending");
    let url = run.c.current_url().await.unwrap();
    assert!(url.query().is_none(), "no token in the address bar: {url}");
    assert!(run.text("h1").await.contains("XOR integration"));
    run.shot("not-connected").await;
    run.accessible("not connected").await;

    // 2. Connect → the note, with each permission and why.
    let note = run.c.find(Locator::Css("#connect-note")).await.unwrap();
    assert!(!note.is_displayed().await.unwrap(), "the note is closed until Connect");
    run.c.find(Locator::Css("#connect")).await.unwrap().click().await.unwrap();
    assert!(note.is_displayed().await.unwrap(), "the note pops up");
    let permissions = run.text("#permissions").await;
    assert!(
        permissions.contains("create an opportunity") && permissions.contains("opportunities:write:admin"),
        "{permissions}"
    );
    run.shot("connect-note").await;
    run.accessible("the connect note").await;

    // 3. The note's Connect → Lever's consent page.
    run.c.find(Locator::Css("#authorize")).await.unwrap().click().await.unwrap();
    run.wait_for("#allow").await;
    assert!(run.text("#scopes").await.contains("opportunities:write:admin"));
    run.shot("lever-consent").await;

    // 4. Allow → back on the section, connected.
    run.c.find(Locator::Css("#allow")).await.unwrap().click().await.unwrap();
    run.wait_for("#status").await;
    assert_eq!(run.status().await, "connected");
    run.shot("connected").await;

    // 5. The synced jobs with their chatbot and webchat links.
    run.reload_until("#jobs tbody tr", 4).await;
    let jobs = run.text("#jobs").await;
    assert!(
        jobs.contains("Senior Backend Engineer (Rust)") && jobs.contains("https://jobs.xor.ai/c/xj_000001"),
        "{jobs}"
    );
    assert!(jobs.contains("xj_000004"));
    let copies = run.c.find_all(Locator::Css("#jobs button[data-copy]")).await.unwrap();
    assert_eq!(copies.len(), 8, "a copy button per chatbot and webchat link");
    run.shot("jobs").await;
    run.accessible("connected with jobs").await;

    // 6. A candidate who waits (Lever answered 503) → Replay → in Lever.
    run.reload_until("#waiting tbody tr", 1).await;
    assert!(run.text("#waiting").await.contains("G. H."));
    run.shot("waiting").await;
    run.c.find(Locator::Css("#waiting button[type=submit]")).await.unwrap().click().await.unwrap();
    run.wait_for("#recent").await;
    run.reload_until("#recent tbody tr", 2).await;
    assert!(run.c.find_all(Locator::Css("#waiting")).await.unwrap().is_empty(), "nothing waits");
    let recent = run.text("#recent").await;
    assert!(recent.contains("A. L.") && recent.contains("G. H.") && !recent.contains("Hopper"), "{recent}");
    run.shot("replayed").await;
    run.accessible("after the replay").await;

    // 7. On a phone: nothing wider than the screen.
    run.c.set_window_size(390, 844).await.unwrap();
    run.c.refresh().await.unwrap();
    let overflow = run
        .c
        .execute("return document.documentElement.scrollWidth - document.documentElement.clientWidth;", vec![])
        .await
        .unwrap();
    assert!(overflow.as_i64().unwrap() <= 0, "the page scrolls sideways on a phone by {overflow}px");
    run.shot("phone").await;
    run.accessible("on a phone").await;

    // 8. Which jobs go to XOR (issue 26): every posting of the feed, a rule previewed, applied.
    run.c.set_window_size(1280, 900).await.unwrap();
    run.c.refresh().await.unwrap();
    assert!(run.text("#filter-summary").await.contains("4 of 4 postings"), "{}", run.text("#filter-summary").await);
    run.c.find(Locator::Css("#exclude_team option[value='Finance']")).await.unwrap().click().await.unwrap();
    run.c.find(Locator::Css("#preview")).await.unwrap().click().await.unwrap();
    run.wait_for("#preview-result").await;
    let preview = run.text("#preview-result").await;
    assert!(preview.contains("3 jobs would be published, 1 closed in XOR"), "{preview}");
    run.shot("filter-preview").await;
    run.accessible("the filter's preview").await;
    run.c.find(Locator::Css("#apply")).await.unwrap().click().await.unwrap();
    // The preview page has a summary too: wait for the page after Apply (the rule form again).
    run.wait_for("#filter-form").await;
    assert!(run.text("#filter-summary").await.contains("3 of 4 postings"), "{}", run.text("#filter-summary").await);
    assert!(
        run.text("#postings").await.contains("filtered: team \"Finance\" excluded"),
        "{}",
        run.text("#postings").await
    );
    // Apply started a sync: exactly the Finance job is closed in XOR (3 of the 4 stay active).
    let mut closed = false;
    for _ in 0..50 {
        run.c.refresh().await.unwrap();
        if run.text("#jobs-count").await.contains("(3 active)") {
            closed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(closed, "the sync after Apply closes the Finance job: {}", run.text("#jobs-count").await);
    run.shot("filter-applied").await;
    run.accessible("the filter applied").await;
    run.c.close().await.unwrap();
}
