//! Unix time in seconds. Protocol functions take `now` as an argument so tests can pin it.

/// Seconds since the Unix epoch, as stored in every timestamp column.
pub type UnixTime = i64;
