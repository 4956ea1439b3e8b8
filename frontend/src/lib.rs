//! The Leptos admin dashboard lives here once the dashboard issue (#6) is built. Empty on purpose.
#![forbid(unsafe_code)]
