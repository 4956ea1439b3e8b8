//! Outgoing mail. With `SMTP_URL` set, messages go through SMTP (lettre's pooled async transport, so
//! `smtps://` and `smtp://…?tls=required` work as lettre documents them); without it, each message is
//! written as an `.eml` file to an outbox folder and its path logged, so a newcomer can read their
//! verification mail without a mail server.
#![forbid(unsafe_code)]
use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum MailError {
    #[error("invalid address: {0}")]
    Address(String),
    #[error("mail could not be built: {0}")]
    Build(String),
    #[error("mail could not be sent: {0}")]
    Send(String),
    #[error("mail configuration: {0}")]
    Config(String),
}

/// One message, plain text: links in mail should be copyable, and text mail is never mangled.
#[derive(Clone, Debug)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub body: String,
}

#[derive(Clone)]
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Outbox(PathBuf, AsyncFileTransport<Tokio1Executor>),
}

#[derive(Clone)]
pub struct Mailer {
    from: Mailbox,
    transport: Transport,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The SMTP URL may hold a password: never print it.
        let kind = match &self.transport {
            Transport::Smtp(_) => "smtp".to_owned(),
            Transport::Outbox(dir, _) => format!("outbox {}", dir.display()),
        };
        f.debug_struct("Mailer").field("from", &self.from.to_string()).field("transport", &kind).finish()
    }
}

impl Mailer {
    /// SMTP from a URL (`smtp://user:pass@host:587?tls=required`, `smtps://…`, `smtp://host:1025` for
    /// a local catcher).
    pub fn smtp(url: &str, from: &str) -> Result<Self, MailError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| MailError::Config(format!("SMTP_URL: {e}")))?
            .build();
        Ok(Self { from: parse_mailbox(from)?, transport: Transport::Smtp(transport) })
    }

    /// Writes every message to `dir` as `{uuid}.eml`.
    pub fn outbox(dir: &Path, from: &str) -> Result<Self, MailError> {
        std::fs::create_dir_all(dir).map_err(|e| MailError::Config(format!("outbox {}: {e}", dir.display())))?;
        Ok(Self {
            from: parse_mailbox(from)?,
            transport: Transport::Outbox(dir.to_owned(), AsyncFileTransport::new(dir)),
        })
    }

    pub async fn send(&self, email: &Email) -> Result<(), MailError> {
        let message = Message::builder()
            .from(self.from.clone())
            .to(parse_mailbox(&email.to)?)
            .subject(email.subject.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(email.body.clone())
            .map_err(|e| MailError::Build(e.to_string()))?;
        match &self.transport {
            Transport::Smtp(t) => {
                t.send(message).await.map_err(|e| MailError::Send(e.to_string()))?;
                tracing::info!(subject = %email.subject, "mail sent over SMTP");
            }
            Transport::Outbox(dir, t) => {
                let id = t.send(message).await.map_err(|e| MailError::Send(e.to_string()))?;
                // The path, not the content: the content carries single-use links.
                tracing::info!(path = %dir.join(format!("{id}.eml")).display(), subject = %email.subject, "mail written to the outbox");
            }
        }
        Ok(())
    }
}

/// Whether mail can be addressed to `s`: the services check addresses with this before storing them,
/// so an account never holds an address its own mail would be refused for.
pub fn is_valid_address(s: &str) -> bool {
    parse_mailbox(s).is_ok()
}

fn parse_mailbox(s: &str) -> Result<Mailbox, MailError> {
    s.parse::<Mailbox>().map_err(|e| MailError::Address(format!("{s}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_judged_as_the_mailer_will() {
        for ok in ["ada@example.com", "Ada.Lovelace+alexa@mail.example.co.uk", "x@localhost"] {
            assert!(is_valid_address(ok), "{ok}");
        }
        // What schemathesis once stored as a user's address: the reset mail then failed with a 503.
        for bad in ["è~önî@", "a@", "@b.com", "a b@example.com", "a@exa mple.com", "a@[300.1.1.1]", "a@-x..com"] {
            assert!(!is_valid_address(bad), "{bad}");
        }
    }

    #[tokio::test]
    async fn outbox_writes_one_eml_per_message() -> Result<(), Box<dyn std::error::Error>> {
        let dir = std::env::temp_dir().join(format!("latchkey-mail-{}", std::process::id()));
        let mailer = Mailer::outbox(&dir, "Latchkey <no-reply@latchkey.test>")?;
        mailer
            .send(&Email { to: "a@example.com".into(), subject: "Verify".into(), body: "https://x/verify?t=1".into() })
            .await?;
        let files: Vec<_> = std::fs::read_dir(&dir)?.collect::<Result<_, _>>()?;
        assert_eq!(files.len(), 1);
        let text = std::fs::read_to_string(files[0].path())?;
        assert!(text.contains("To: a@example.com"));
        assert!(text.contains("https://x/verify?t=1"));
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }

    #[test]
    fn bad_addresses_are_errors_not_panics() {
        assert!(matches!(parse_mailbox("not an address"), Err(MailError::Address(_))));
        assert!(Mailer::smtp("http://nope", "a@b.c").is_err());
    }
}
