//! The Alexa Event Gateway (ALEXA.md §5): where to send, and what its errors mean.
use latchkey_core::alexa::AlexaRegion;
use serde_json::Value;

pub fn regional_url(region: AlexaRegion) -> &'static str {
    match region {
        AlexaRegion::NA => "https://api.amazonalexa.com/v3/events",
        AlexaRegion::EU => "https://api.eu.amazonalexa.com/v3/events",
        AlexaRegion::FE => "https://api.fe.amazonalexa.com/v3/events",
    }
}

/// Amazon's error code from a gateway answer (`{"header":…, "payload":{"code","description"}}`).
pub fn error_code(body: &Value) -> (String, String) {
    let code = body.pointer("/payload/code").and_then(Value::as_str).unwrap_or("UNKNOWN").to_owned();
    let description = body.pointer("/payload/description").and_then(Value::as_str).unwrap_or("").to_owned();
    (code, description)
}

/// What to do about a gateway answer.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Accepted,
    /// Refresh the Amazon token and try once more.
    RefreshAndRetry,
    /// The user disabled the skill: forget that grant's Amazon tokens and stop sending to it.
    SkillDisabled,
    /// Wait and retry (throttling, Amazon's 5xx).
    Backoff,
    Fail,
}

pub fn verdict(status: u16, code: &str) -> Verdict {
    match (status, code) {
        (202, _) | (200, _) => Verdict::Accepted,
        (401, _) => Verdict::RefreshAndRetry,
        (403, "SKILL_DISABLED_EXCEPTION") => Verdict::SkillDisabled,
        (429, _) | (500, _) | (503, _) => Verdict::Backoff,
        _ => Verdict::Fail,
    }
}

/// A hint for the error a device company is most likely to misread.
pub fn probable_cause(code: &str, region: AlexaRegion) -> Option<String> {
    match code {
        "SKILL_NEVER_ENABLED_EXCEPTION" => Some(format!(
            "this Alexa account's events went to the {} gateway, the region its AcceptGrant was recorded for, but the account is probably in another region: if the skill is live in several regions, the skill backend must pass the region of the endpoint that received each AcceptGrant (?region=)",
            region.as_str()
        )),
        "SKILL_NOT_FOUND_EXCEPTION" => {
            Some("the skill id does not match a skill Amazon knows for these credentials".into())
        }
        "INSUFFICIENT_PERMISSION_EXCEPTION" => Some(
            "the skill does not have the \"Send Alexa Events\" permission: enable it in the Alexa developer console (Build > Permissions); this is the skill's configuration, not the user's doing".into(),
        ),
        "REQUEST_ENTITY_TOO_LARGE_EXCEPTION" => Some("the event is larger than the gateway accepts".into()),
        "INVALID_REQUEST_EXCEPTION" => {
            Some("the event does not match Alexa's schema for its namespace and name".into())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        assert_eq!(verdict(202, ""), Verdict::Accepted);
        assert_eq!(verdict(401, "INVALID_ACCESS_TOKEN_EXCEPTION"), Verdict::RefreshAndRetry);
        assert_eq!(verdict(403, "SKILL_DISABLED_EXCEPTION"), Verdict::SkillDisabled);
        assert_eq!(verdict(403, "INSUFFICIENT_PERMISSION_EXCEPTION"), Verdict::Fail);
        assert_eq!(verdict(429, "THROTTLING_EXCEPTION"), Verdict::Backoff);
        assert_eq!(verdict(503, "SERVICE_UNAVAILABLE_EXCEPTION"), Verdict::Backoff);
        assert_eq!(verdict(404, "SKILL_NEVER_ENABLED_EXCEPTION"), Verdict::Fail);
        assert!(probable_cause("SKILL_NEVER_ENABLED_EXCEPTION", AlexaRegion::EU).is_some_and(|c| c.contains("EU")));
    }
}
