//! Server functions for the Skill Management API: the tenant's credentials and publishing a skill's
//! account linking to the Alexa console, over the same `AlexaService` calls as the CLI and the API.
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use crate::server::{access, alexa_err};

/// What publishing found in the console afterwards.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PublishRow {
    pub stage: String,
    pub matches: bool,
    /// SMAPI's names of the fields the console holds differently.
    pub differing: Vec<String>,
}

/// The SMAPI client id, when credentials are set.
#[server(prefix = "/admin/fn")]
pub async fn smapi_client(slug: String) -> Result<Option<String>, ServerFnError> {
    let (c, a) = access(&slug).await?;
    Ok(c.alexa.smapi_status(&a).await.map_err(alexa_err)?.lwa_client_id)
}

#[server(prefix = "/admin/fn")]
pub async fn set_smapi(
    slug: String,
    lwa_client_id: String,
    lwa_client_secret: String,
    refresh_token: String,
) -> Result<String, ServerFnError> {
    let (c, a) = access(&slug).await?;
    let input = latchkey_alexa::smapi::SmapiCredentialsInput {
        lwa_client_id: lwa_client_id.trim().to_owned(),
        lwa_client_secret: lwa_client_secret.trim().to_owned(),
        refresh_token: refresh_token.trim().to_owned(),
    };
    let status = c.alexa.set_smapi_credentials(&a, input).await.map_err(alexa_err)?;
    Ok(format!("SMAPI credentials saved for {}.", status.lwa_client_id.unwrap_or_default()))
}

#[server(prefix = "/admin/fn")]
pub async fn publish_skill(
    slug: String,
    skill: String,
    client_secret: String,
    stage: String,
) -> Result<PublishRow, ServerFnError> {
    let (c, a) = access(&slug).await?;
    let stage = stage.parse().map_err(crate::server::bad_input)?;
    let r = c.alexa.publish(&a, &skill, client_secret.trim(), stage).await.map_err(alexa_err)?;
    Ok(PublishRow {
        stage: r.stage.as_str().to_owned(),
        matches: r.matches,
        differing: r.fields.into_iter().filter(|f| !f.matches).map(|f| f.field.to_owned()).collect(),
    })
}
