//! Files at rest: the real binary keeps its data directory private. The directory used to be created
//! 0755 and the database, its WAL and `outbox/*.eml` (live reset links) 0644: now 0700 and 0600, on
//! creation and fixed at start-up for what an earlier version left behind.
#![cfg(unix)]
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::cli::latchkey;
use crate::helpers::*;
use crate::scale::{free_port, start_logging_to};

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_directory_is_private() {
    let dir = std::env::temp_dir().join(unique("latchkey-files-"));
    // What an earlier version left: a world-readable directory and file.
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let stray = dir.join("latchkey.db.bak");
    std::fs::write(&stray, b"old").expect("stray");
    std::fs::set_permissions(&stray, std::fs::Permissions::from_mode(0o644)).expect("chmod");

    let port = free_port();
    let public = format!("http://127.0.0.1:{port}");
    let env: Vec<(&str, String)> = vec![
        ("LATCHKEY_DATA_DIR", dir.display().to_string()),
        ("LATCHKEY_PUBLIC_URL", public.clone()),
        ("RUST_LOG", "warn".into()),
    ];
    let env_ref: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (code, _, err) = latchkey(&env_ref, &["tenant", "create", "--slug", "acme", "--name", "Acme", "--json"], None);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = latchkey(
        &env_ref,
        &["user", "create", "--tenant", "acme", "--email", "ann@example.com", "--password-stdin", "--json"],
        Some("a long password 1\n"),
    );
    assert_eq!(code, 0, "{err}");
    let server = start_logging_to(&env, None, port).await;
    // "Forgot your password?" writes a mail with a live link into the outbox.
    let resp = browser()
        .post(format!("{public}/t/acme/password/forgot"))
        .form(&[("email", "ann@example.com")])
        .send()
        .await
        .expect("forgot");
    assert!(resp.status().is_success(), "{}", resp.status());
    let outbox = dir.join("outbox");
    let mails: Vec<_> = std::fs::read_dir(&outbox).expect("outbox").filter_map(Result::ok).map(|e| e.path()).collect();
    assert_eq!(mails.len(), 1);

    assert_eq!(mode(&dir), 0o700, "the data directory");
    assert_eq!(mode(&stray), 0o600, "fixed at start-up");
    assert_eq!(mode(&outbox), 0o700, "the outbox");
    assert_eq!(mode(&mails[0]), 0o600, "a mail with a live link");
    for name in ["latchkey.db", "latchkey.db-wal", "latchkey.db-shm", "master.key"] {
        let p = dir.join(name);
        if p.exists() {
            assert_eq!(mode(&p), 0o600, "{name}");
        }
    }
    assert!(dir.join("latchkey.db").exists());
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
