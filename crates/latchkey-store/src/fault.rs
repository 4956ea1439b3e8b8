//! Fault injection for the crash-safety tests: the process aborts at a named point, as if the machine
//! lost power there. Compiled to nothing unless the `fault-injection` feature is on, which only the test
//! build enables (latchkey-server's dev-dependencies); release binaries carry no hook.

/// Aborts the process when `LATCHKEY_FAULT_POINT` names this point (test builds only).
#[inline]
pub fn point(name: &str) {
    #[cfg(feature = "fault-injection")]
    if std::env::var("LATCHKEY_FAULT_POINT").is_ok_and(|p| p == name) {
        // abort(), not exit(): no destructor runs, no transaction is committed or rolled back by us.
        eprintln!("fault injection: aborting at {name}");
        std::process::abort();
    }
    #[cfg(not(feature = "fault-injection"))]
    let _ = name;
}
