//! Changing a registered skill: its name, vendor id (and with it Alexa's redirect URIs), regions,
//! messaging credentials and its client's token settings. The client id stays, so no user relinks.
use latchkey_core::alexa::{self, AlexaRegion};
use latchkey_core::client_auth::ClientAuthMethod;
use latchkey_core::refresh::RefreshPolicy;
use latchkey_core::signing::SigningAlg;
use latchkey_store::records::{Client, LwaChange, Skill, SkillChanges};
use serde::Deserialize;
use serde_json::json;

use crate::AuthServer;
use crate::access::Access;
use crate::admin::{check_name, check_skill_scopes, validate_lwa};
use crate::error::{ServiceError, ServiceResult};
use crate::manage::{ClientUpdate, SkillView, apply_client_update, not_found, set_if_changed};

/// Changes to a skill; an absent field keeps its value. The Alexa skill id and kind identify the skill
/// in Amazon's console and do not change (register a new skill instead).
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SkillUpdate {
    /// Also the name of the skill's client.
    pub name: Option<String>,
    /// Replaces Alexa's three redirect URIs of the old vendor id with the new one's; any other redirect
    /// URI of the client stays.
    pub vendor_id: Option<String>,
    /// Your app's redirect URLs for app-to-app linking (the console's "Your Redirect URLs"), replacing
    /// the ones the skill has; Alexa's three stay registered. At most 15; `[]` for none.
    pub app_redirect_urls: Option<Vec<String>>,
    /// Every region the skill is live in, the first being the default. Grants already made in a region
    /// that is dropped keep their events' region until unlinked; new AcceptGrants from it are refused.
    pub regions: Option<Vec<AlexaRegion>>,
    /// A new messaging client id, with its secret.
    pub lwa_client_id: Option<String>,
    /// A new messaging secret; alone, for the client id the skill has.
    pub lwa_client_secret: Option<String>,
    /// Forget the messaging credentials (AcceptGrant and events stop until new ones are set).
    #[serde(default)]
    pub remove_lwa_credentials: bool,
    /// Space-separated.
    pub scopes: Option<String>,
    /// Must match the Authentication Scheme in the Alexa console.
    pub auth_method: Option<ClientAuthMethod>,
    /// Seconds; Alexa needs at least 360 for every kind of skill.
    pub access_token_ttl: Option<i64>,
    pub refresh_policy: Option<RefreshPolicy>,
    /// Absolute refresh-token lifetime in seconds, at least an hour; `0` for none.
    pub refresh_token_ttl: Option<i64>,
    pub require_pkce: Option<bool>,
    /// The algorithm of the ID tokens the skill's client gets: RS256, ES256 or EdDSA.
    pub id_token_signed_response_alg: Option<SigningAlg>,
}

impl SkillUpdate {
    /// Takes the client's token settings (scopes, scheme, lifetimes, refresh policy, PKCE) from a
    /// client update: the CLI shares its client options between `client update` and `skill update`.
    pub fn with_client_settings(self, c: ClientUpdate) -> Self {
        Self {
            scopes: c.scopes,
            auth_method: c.auth_method,
            access_token_ttl: c.access_token_ttl,
            refresh_policy: c.refresh_policy,
            refresh_token_ttl: c.refresh_token_ttl,
            require_pkce: c.require_pkce,
            id_token_signed_response_alg: c.id_token_signed_response_alg,
            ..self
        }
    }

    /// The client's token settings this update changes (name and redirect URIs aside).
    fn client_settings(&self) -> ClientUpdate {
        ClientUpdate {
            scopes: self.scopes.clone(),
            auth_method: self.auth_method,
            access_token_ttl: self.access_token_ttl,
            refresh_policy: self.refresh_policy,
            refresh_token_ttl: self.refresh_token_ttl,
            require_pkce: self.require_pkce,
            id_token_signed_response_alg: self.id_token_signed_response_alg,
            ..ClientUpdate::default()
        }
    }
}

/// What the update does to the messaging credentials, checked against what the skill has.
fn lwa_change(skill: &Skill, u: &SkillUpdate) -> ServiceResult<LwaChange> {
    let invalid = |m: &str| Err(ServiceError::Invalid(m.into()));
    match (u.lwa_client_id.as_deref(), u.lwa_client_secret.as_deref(), u.remove_lwa_credentials) {
        (None, None, false) => Ok(LwaChange::Keep),
        (None, None, true) => Ok(LwaChange::Clear),
        (_, _, true) => invalid("remove_lwa_credentials cannot come with new messaging credentials"),
        (Some(id), Some(secret), false) => {
            validate_lwa(id, secret)?;
            Ok(LwaChange::Set { client_id: id.to_owned(), client_secret: secret.to_owned() })
        }
        (None, Some(secret), false) => match skill.lwa_client_id.as_deref() {
            Some(id) => {
                validate_lwa(id, secret)?;
                Ok(LwaChange::Secret(secret.to_owned()))
            }
            None => invalid("the skill has no messaging client id: give lwa_client_id with the secret"),
        },
        (Some(id), None, false) if skill.lwa_client_id.as_deref() == Some(id) => Ok(LwaChange::Keep),
        (Some(_), None, false) => invalid("a new lwa_client_id needs its lwa_client_secret"),
    }
}

/// An app's redirect URLs: registrable redirect URIs, none of them Alexa's, at most Alexa's 15.
fn check_app_redirect_urls(urls: &[String], vendor_id: &str) -> ServiceResult<()> {
    if urls.len() > alexa::MAX_DOMAINS {
        return Err(ServiceError::Invalid(format!("at most {} app redirect URLs", alexa::MAX_DOMAINS)));
    }
    let alexas = alexa::redirect_uris(vendor_id);
    for u in urls {
        latchkey_core::redirect::validate_registered(u).map_err(ServiceError::Invalid)?;
        if alexas.contains(u) || u.contains("/api/skill/link/") {
            return Err(ServiceError::Invalid(format!("'{u}' is Alexa's redirect URL, not your app's")));
        }
    }
    Ok(())
}

/// The client's redirect URIs with Alexa's URIs for `old` vendor replaced by `new`'s, others kept.
fn move_vendor(uris: &[String], old: &str, new: &str) -> Vec<String> {
    let stale = alexa::redirect_uris(old);
    let fresh = alexa::redirect_uris(new);
    let kept = uris.iter().filter(|u| !stale.contains(u) && !fresh.contains(u)).cloned().collect::<Vec<_>>();
    [fresh, kept].concat()
}

impl AuthServer {
    pub async fn update_skill(&self, a: &Access, id: &str, u: SkillUpdate) -> ServiceResult<SkillView> {
        a.require_write()?;
        let mut changed: Vec<&'static str> = Vec::new();
        // Checked and applied inside the store's transaction, against the skill as it is there.
        let (updated, client) = self
            .store
            .scoped(a.id())
            .modify_skill(id, |skill, mut client| {
                let next = apply_skill_update(&skill, &mut client, u, &mut changed)?;
                Ok::<_, ServiceError>((!changed.is_empty()).then_some((next, client)))
            })
            .await
            .map_err(not_found(format!("skill '{id}'")))?;
        if !changed.is_empty() {
            self.invalidate_client(a.id(), &client.client_id);
            self.invalidate_skills(a.id());
            a.audit(self, "skill.updated", Some(&updated.alexa_skill_id), json!({"changed": changed})).await?;
        }
        Ok(self.view_of(a, updated, client))
    }
}

/// Checks `u` against the skill and its client and applies it: the skill's next state, the client
/// changed in place, and the names of what changed (for the audit log; nothing changed, nothing is
/// written).
fn apply_skill_update(
    skill: &Skill,
    client: &mut Client,
    u: SkillUpdate,
    changed: &mut Vec<&'static str>,
) -> ServiceResult<SkillChanges> {
    let lwa = lwa_change(skill, &u)?;
    let mut next = SkillChanges {
        name: skill.name.clone(),
        vendor_id: skill.vendor_id.clone(),
        regions: skill.regions.clone(),
        lwa: LwaChange::Keep,
    };
    if let Some(n) = &u.name {
        set_if_changed(&mut next.name, check_name(n)?, "name", changed);
    }
    // Giving the vendor id, even unchanged, registers Alexa's redirect URIs for it again (the
    // readiness check's fix for a client whose URIs were edited away).
    let mut redirect_uris = None;
    if let Some(v) = u.vendor_id.as_deref().map(str::trim) {
        alexa::validate_vendor_id(v).map_err(ServiceError::Invalid)?;
        redirect_uris = Some(move_vendor(&client.redirect_uris, &skill.vendor_id, v));
        set_if_changed(&mut next.vendor_id, v.to_owned(), "vendor_id", changed);
    }
    if let Some(app) = &u.app_redirect_urls {
        check_app_redirect_urls(app, &next.vendor_id)?;
        redirect_uris = Some([alexa::redirect_uris(&next.vendor_id), app.clone()].concat());
    }
    if let Some(list) = &u.regions {
        let regions = alexa::parse_regions(&alexa::regions_text(list)).map_err(ServiceError::Invalid)?;
        set_if_changed(&mut next.regions, regions, "regions", changed);
    }
    set_if_changed(&mut next.lwa, lwa, "lwa_credentials", changed);
    let client_changes =
        ClientUpdate { name: u.name.is_some().then(|| next.name.clone()), redirect_uris, ..u.client_settings() };
    let client_changed = apply_client_update(client, client_changes, skill.kind.min_access_token_ttl())?;
    check_skill_scopes(&client.scopes)?;
    // The client's name is the skill's, already counted.
    changed.extend(client_changed.into_iter().filter(|c| *c != "name"));
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_vendor_replaces_only_alexas_redirect_uris() {
        let mut uris = alexa::redirect_uris("OLD1");
        uris.push("https://app.example.com/alexa-return".into());
        let moved = move_vendor(&uris, "OLD1", "NEW2");
        assert_eq!(moved[..3], alexa::redirect_uris("NEW2")[..]);
        assert_eq!(moved[3..], ["https://app.example.com/alexa-return".to_owned()]);
        assert!(moved.iter().all(|u| !u.ends_with("OLD1")));
    }
}
