//! Alexa's message formats (ALEXA.md §4–6): parsing what the skill backend forwards, building what it
//! must hand back to Alexa, and putting the Amazon token where the Event Gateway expects it. Pure.
use serde_json::{Value, json};

/// What the skill backend forwarded to `/alexa/directives`.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming {
    AcceptGrant { code: String, grantee_token: String },
    SkillEvent { kind: SkillEventKind, alexa_skill_id: String, access_token: Option<String>, body: Value },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SkillEventKind {
    SkillEnabled,
    SkillDisabled,
    SkillAccountLinked,
    SkillPermissionAccepted,
    SkillPermissionChanged,
}

impl SkillEventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SkillEnabled => "SkillEnabled",
            Self::SkillDisabled => "SkillDisabled",
            Self::SkillAccountLinked => "SkillAccountLinked",
            Self::SkillPermissionAccepted => "SkillPermissionAccepted",
            Self::SkillPermissionChanged => "SkillPermissionChanged",
        }
    }
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k)).and_then(Value::as_str)
}

/// Parses a forwarded directive or skill event, naming exactly what is wrong when it cannot.
pub fn parse(v: &Value) -> Result<Incoming, String> {
    if let Some(d) = v.get("directive") {
        let ns = str_at(d, &["header", "namespace"]).ok_or("directive.header.namespace is missing")?;
        let name = str_at(d, &["header", "name"]).ok_or("directive.header.name is missing")?;
        if ns != "Alexa.Authorization" || name != "AcceptGrant" {
            return Err(format!(
                "directive {ns}.{name} is not handled by Latchkey; only Alexa.Authorization.AcceptGrant is"
            ));
        }
        let grant_type = str_at(d, &["payload", "grant", "type"]).ok_or("directive.payload.grant.type is missing")?;
        if grant_type != "OAuth2.AuthorizationCode" {
            return Err(format!("grant type '{grant_type}' is not OAuth2.AuthorizationCode"));
        }
        let code = str_at(d, &["payload", "grant", "code"])
            .filter(|c| !c.is_empty())
            .ok_or("directive.payload.grant.code is missing")?;
        let token = str_at(d, &["payload", "grantee", "token"])
            .filter(|t| !t.is_empty())
            .ok_or("directive.payload.grantee.token is missing")?;
        return Ok(Incoming::AcceptGrant { code: code.to_owned(), grantee_token: token.to_owned() });
    }
    if let Some(r) = v.get("request") {
        let ty = str_at(r, &["type"]).ok_or("request.type is missing")?;
        let kind = match ty {
            "AlexaSkillEvent.SkillEnabled" => SkillEventKind::SkillEnabled,
            "AlexaSkillEvent.SkillDisabled" => SkillEventKind::SkillDisabled,
            "AlexaSkillEvent.SkillAccountLinked" => SkillEventKind::SkillAccountLinked,
            "AlexaSkillEvent.SkillPermissionAccepted" => SkillEventKind::SkillPermissionAccepted,
            "AlexaSkillEvent.SkillPermissionChanged" => SkillEventKind::SkillPermissionChanged,
            other => return Err(format!("request type '{other}' is not a skill event Latchkey handles")),
        };
        let skill = str_at(v, &["context", "System", "application", "applicationId"])
            .ok_or("context.System.application.applicationId is missing")?;
        let token = str_at(v, &["context", "System", "user", "accessToken"]).map(str::to_owned);
        return Ok(Incoming::SkillEvent {
            kind,
            alexa_skill_id: skill.to_owned(),
            access_token: token,
            body: r.get("body").cloned().unwrap_or(Value::Null),
        });
    }
    Err("expected a smart home directive ({\"directive\": …}) or a skill event ({\"request\": …})".into())
}

fn message_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// `AcceptGrant.Response` (ALEXA.md §4).
pub fn accept_grant_response() -> Value {
    json!({"event": {
        "header": {"namespace": "Alexa.Authorization", "name": "AcceptGrant.Response", "messageId": message_id(), "payloadVersion": "3"},
        "payload": {}
    }})
}

/// The `ErrorResponse` Alexa expects when AcceptGrant fails (ALEXA.md §4).
pub fn accept_grant_error(message: &str) -> Value {
    json!({"event": {
        "header": {"namespace": "Alexa.Authorization", "name": "ErrorResponse", "messageId": message_id(), "payloadVersion": "3"},
        "payload": {"type": "ACCEPT_GRANT_FAILED", "message": message}
    }})
}

/// Skill events need no content in the answer; this is the empty custom-skill response.
pub fn skill_event_ack() -> Value {
    json!({"version": "1.0", "response": {}})
}

/// Where the token went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenLocation {
    EndpointScope,
    PayloadScope,
}

/// Where the Amazon token goes in this event (ALEXA.md §5): `payload.scope` for discovery reports,
/// `endpoint.scope` for everything about an endpoint (ChangeReport, Response, DeferredResponse, …).
/// An event the token cannot go into is an error, found without changing the event.
pub fn token_location(event: &Value) -> Result<TokenLocation, String> {
    let name = str_at(event, &["header", "name"]).ok_or("event.header.name is missing")?;
    str_at(event, &["header", "namespace"]).ok_or("event.header.namespace is missing")?;
    let obj = event.as_object().ok_or("event must be an object")?;
    if matches!(name, "AddOrUpdateReport" | "DeleteReport") || !obj.contains_key("endpoint") {
        match obj.get("payload") {
            None => Ok(TokenLocation::PayloadScope),
            Some(p) if p.is_object() => Ok(TokenLocation::PayloadScope),
            Some(_) => Err("event.payload must be an object".into()),
        }
    } else if obj.get("endpoint").is_some_and(Value::is_object) {
        Ok(TokenLocation::EndpointScope)
    } else {
        Err("event.endpoint must be an object".into())
    }
}

/// Puts the Amazon token where `token_location` says.
pub fn insert_token(event: &mut Value, token: &str) -> Result<TokenLocation, String> {
    let location = token_location(event)?;
    let scope = json!({"type": "BearerToken", "token": token});
    let (key, empty) = match location {
        TokenLocation::PayloadScope => ("payload", Some(json!({}))),
        TokenLocation::EndpointScope => ("endpoint", None),
    };
    let obj = event.as_object_mut().ok_or("event must be an object")?;
    let target = match empty {
        Some(e) => obj.entry(key).or_insert(e),
        None => obj.get_mut(key).ok_or("event.endpoint is missing")?,
    };
    target.as_object_mut().ok_or_else(|| format!("event.{key} must be an object"))?.insert("scope".into(), scope);
    Ok(location)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept_grant() -> Value {
        json!({"directive": {"header": {"namespace": "Alexa.Authorization", "name": "AcceptGrant", "messageId": "m", "payloadVersion": "3"},
            "payload": {"grant": {"type": "OAuth2.AuthorizationCode", "code": "ANUbUKCJqlBOpMhwYWxU"}, "grantee": {"type": "BearerToken", "token": "tok"}}}})
    }

    #[test]
    fn parses_accept_grant() {
        assert_eq!(
            parse(&accept_grant()),
            Ok(Incoming::AcceptGrant { code: "ANUbUKCJqlBOpMhwYWxU".into(), grantee_token: "tok".into() })
        );
        let mut other = accept_grant();
        other["directive"]["header"]["name"] = json!("Discover");
        assert!(parse(&other).is_err_and(|e| e.contains("Discover")));
        let mut no_code = accept_grant();
        no_code["directive"]["payload"]["grant"]["code"] = json!("");
        assert!(parse(&no_code).is_err_and(|e| e.contains("grant.code")));
        assert!(parse(&json!({"hello": 1})).is_err());
        assert!(parse(&json!([1, 2])).is_err());
    }

    #[test]
    fn parses_skill_events() {
        let e = json!({"version": "1.0", "context": {"System": {"application": {"applicationId": "amzn1.ask.skill.1"}, "user": {"userId": "u", "accessToken": "at"}}},
            "request": {"type": "AlexaSkillEvent.SkillDisabled", "body": {"userInformationPersistenceStatus": "NOT_PERSISTED"}}});
        match parse(&e) {
            Ok(Incoming::SkillEvent { kind, alexa_skill_id, access_token, .. }) => {
                assert_eq!(kind, SkillEventKind::SkillDisabled);
                assert_eq!(alexa_skill_id, "amzn1.ask.skill.1");
                assert_eq!(access_token.as_deref(), Some("at"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn responses_have_alexas_shape() {
        let r = accept_grant_response();
        assert_eq!(r["event"]["header"]["name"], "AcceptGrant.Response");
        assert_eq!(r["event"]["header"]["payloadVersion"], "3");
        assert_eq!(r["event"]["payload"], json!({}));
        assert_ne!(r["event"]["header"]["messageId"], accept_grant_response()["event"]["header"]["messageId"]);
        let e = accept_grant_error("nope");
        assert_eq!(e["event"]["header"]["name"], "ErrorResponse");
        assert_eq!(e["event"]["payload"]["type"], "ACCEPT_GRANT_FAILED");
    }

    #[test]
    fn token_goes_where_amazon_wants_it() {
        let mut change = json!({"header": {"namespace": "Alexa", "name": "ChangeReport"}, "endpoint": {"endpointId": "lock-1"}, "payload": {}});
        assert_eq!(insert_token(&mut change, "Atza|x"), Ok(TokenLocation::EndpointScope));
        assert_eq!(change["endpoint"]["scope"], json!({"type": "BearerToken", "token": "Atza|x"}));
        let mut add = json!({"header": {"namespace": "Alexa.Discovery", "name": "AddOrUpdateReport"}, "payload": {"endpoints": []}});
        assert_eq!(insert_token(&mut add, "Atza|y"), Ok(TokenLocation::PayloadScope));
        assert_eq!(add["payload"]["scope"]["token"], "Atza|y");
        assert!(insert_token(&mut json!({"payload": {}}), "t").is_err());
        assert!(
            insert_token(&mut json!({"header": {"namespace": "Alexa", "name": "ChangeReport"}, "endpoint": 5}), "t")
                .is_err()
        );
        let bad_payload = json!({"header": {"namespace": "Alexa.Discovery", "name": "DeleteReport"}, "payload": []});
        assert_eq!(token_location(&bad_payload), Err("event.payload must be an object".into()));
        assert!(insert_token(&mut bad_payload.clone(), "t").is_err(), "the check and the insertion agree");
        let no_payload = json!({"header": {"namespace": "Alexa", "name": "DeleteReport"}});
        assert_eq!(token_location(&no_payload), Ok(TokenLocation::PayloadScope), "a missing payload is made");
    }
}
