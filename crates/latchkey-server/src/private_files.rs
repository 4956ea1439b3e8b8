//! The data directory holds the SQLite database and its WAL, the generated master key and outgoing
//! mail with live single-use links: it is for the server's own user only. Directories 0700, files
//! 0600: new ones through the process's umask, existing ones fixed at start-up.
use std::path::{Path, PathBuf};

/// Everything this process creates from now on is private to its user (umask 077).
pub fn restrict_new_files() {
    #[cfg(unix)]
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
}

/// Creates `dir` (0700) if it is missing.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}

/// Takes group and other permissions away from `dir` and what is in it (two levels: the database
/// files, the key, and `outbox/`), and returns what it changed.
pub fn fix_permissions(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut changed = Vec::new();
    if dir.exists() {
        fix(dir, 2, &mut changed)?;
    }
    Ok(changed)
}

#[cfg(unix)]
fn fix(path: &Path, depth: u8, changed: &mut Vec<PathBuf>) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::symlink_metadata(path)?;
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    let mode = meta.permissions().mode() & 0o777;
    let want = if meta.is_dir() { mode & 0o700 | 0o700 } else { mode & 0o600 };
    if mode != want {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(want))?;
        changed.push(path.to_owned());
    }
    if meta.is_dir() && depth > 0 {
        for entry in std::fs::read_dir(path)? {
            fix(&entry?.path(), depth - 1, changed)?;
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn fix(_path: &Path, _depth: u8, _changed: &mut Vec<PathBuf>) -> std::io::Result<()> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn group_and_other_lose_their_access() {
        let dir = std::env::temp_dir().join(format!("lk-perm-{}", std::process::id()));
        let outbox = dir.join("outbox");
        std::fs::create_dir_all(&outbox).expect("dirs");
        for (p, m) in [(&dir, 0o755), (&outbox, 0o775)] {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).expect("chmod");
        }
        let (db, eml) = (dir.join("latchkey.db"), outbox.join("a.eml"));
        for (p, m) in [(&db, 0o644), (&eml, 0o666)] {
            std::fs::write(p, b"x").expect("file");
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).expect("chmod");
        }
        assert_eq!(fix_permissions(&dir).expect("fix").len(), 4);
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!((mode(&dir), mode(&outbox), mode(&db), mode(&eml)), (0o700, 0o700, 0o600, 0o600));
        assert!(fix_permissions(&dir).expect("again").is_empty(), "nothing left to fix");
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
