//! What Amazon requires of an account-linking provider that can be decided without I/O
//! (ALEXA.md §1–2, §8): the three redirect URIs per vendor ID, skill kinds, regions and lifetimes.
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Smart home skills require access tokens that live at least this long (ALEXA.md §2).
/// Alexa's account-linking FAQ: access tokens must live at least six minutes, for every kind of skill.
pub const MIN_ALEXA_ACCESS_TOKEN_TTL: i64 = 360;

/// Alexa's redirect hosts, one per region; all three must be registered (ALEXA.md §1).
const REDIRECT_BASES: [&str; 3] = [
    "https://pitangui.amazon.com/api/skill/link/",
    "https://layla.amazon.com/api/skill/link/",
    "https://alexa.amazon.co.jp/api/skill/link/",
];

/// The three redirect URIs Alexa uses for a vendor ID, in region order NA, EU, FE.
pub fn redirect_uris(vendor_id: &str) -> Vec<String> {
    REDIRECT_BASES.iter().map(|b| format!("{b}{vendor_id}")).collect()
}

/// The redirect URI Alexa uses for a vendor ID in one region.
pub fn redirect_uri(vendor_id: &str, region: AlexaRegion) -> String {
    let base = match region {
        AlexaRegion::NA => REDIRECT_BASES[0],
        AlexaRegion::EU => REDIRECT_BASES[1],
        AlexaRegion::FE => REDIRECT_BASES[2],
    };
    format!("{base}{vendor_id}")
}

/// Vendor IDs are short uppercase alphanumerics in the Alexa console (e.g. `M2ABCDEF12345`).
pub fn validate_vendor_id(vendor_id: &str) -> Result<(), String> {
    if (1..=64).contains(&vendor_id.len()) && vendor_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err("vendor id must be 1-64 letters and digits, as shown in the Alexa developer console".into())
    }
}

/// Alexa skill ids look like `amzn1.ask.skill.<uuid>`.
pub fn validate_skill_id(skill_id: &str) -> Result<(), String> {
    let ok = skill_id.starts_with("amzn1.ask.skill.")
        && skill_id.len() <= 128
        && skill_id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if ok { Ok(()) } else { Err("Alexa skill id must look like amzn1.ask.skill.<id>".into()) }
}

/// Alexa Skill Messaging credentials as the console's Permissions page shows them: a client id
/// (`amzn1.application-oa2-client.…`) and a secret, each one token of visible ASCII. Bounded so a pasted
/// document cannot be stored as a credential.
pub fn validate_lwa_credential(what: &str, value: &str, max: usize) -> Result<(), String> {
    if (1..=max).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(format!(
            "the messaging {what} must be 1-{max} visible characters without spaces, as the Alexa console shows it"
        ))
    }
}

/// Alexa's limits on an account-linking configuration: scopes, and the Domain List.
pub const MAX_SCOPES: usize = 15;
pub const MAX_DOMAINS: usize = 15;

pub const MAX_LWA_CLIENT_ID: usize = 256;
pub const MAX_LWA_CLIENT_SECRET: usize = 512;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SkillKind {
    SmartHome,
    Video,
    Music,
    Custom,
}

impl SkillKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SmartHome => "smart-home",
            Self::Video => "video",
            Self::Music => "music",
            Self::Custom => "custom",
        }
    }

    /// The shortest access-token lifetime this kind of skill accepts: the same for every kind (Alexa's
    /// requirements say so for all account linking; an earlier reading applied it to smart home only).
    pub fn min_access_token_ttl(self) -> i64 {
        MIN_ALEXA_ACCESS_TOKEN_TTL
    }
}

impl FromStr for SkillKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "smart-home" | "smart_home" => Ok(Self::SmartHome),
            "video" => Ok(Self::Video),
            "music" => Ok(Self::Music),
            "custom" => Ok(Self::Custom),
            _ => Err(format!("unknown skill kind '{s}' (smart-home, video, music, custom)")),
        }
    }
}

impl fmt::Display for SkillKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The Alexa region a skill's events go to (ALEXA.md §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum AlexaRegion {
    NA,
    EU,
    FE,
}

impl AlexaRegion {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NA => "NA",
            Self::EU => "EU",
            Self::FE => "FE",
        }
    }
}

impl FromStr for AlexaRegion {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_uppercase().as_str() {
            "NA" => Ok(Self::NA),
            "EU" => Ok(Self::EU),
            "FE" => Ok(Self::FE),
            _ => Err(format!("unknown region '{s}' (NA, EU, FE)")),
        }
    }
}

/// A skill's regions as stored: space separated, the first being the default.
pub fn regions_text(regions: &[AlexaRegion]) -> String {
    regions.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(" ")
}

/// The regions a skill is live in, at least one, each once, in the order given (the first is where an
/// AcceptGrant that names no region is taken to come from).
pub fn parse_regions(text: &str) -> Result<Vec<AlexaRegion>, String> {
    let mut out = Vec::new();
    for part in text.split([' ', ',']).filter(|p| !p.is_empty()) {
        let r: AlexaRegion = part.parse()?;
        if !out.contains(&r) {
            out.push(r);
        }
    }
    if out.is_empty() { Err("a skill needs at least one region (NA, EU, FE)".into()) } else { Ok(out) }
}

/// The region an AcceptGrant came through (ALEXA.md §5: tokens are per region). The skill backend names
/// it when the skill is live in several; with one region, that one.
pub fn accept_grant_region(skill_regions: &[AlexaRegion], named: Option<AlexaRegion>) -> Result<AlexaRegion, String> {
    let list = || regions_text(skill_regions);
    match (named, skill_regions) {
        (Some(r), _) if skill_regions.contains(&r) => Ok(r),
        (Some(r), _) => Err(format!(
            "region {} is not one of this skill's regions ({}): add it to the skill in Latchkey, or pass the region of the endpoint that received the AcceptGrant",
            r.as_str(),
            list()
        )),
        (None, [only]) => Ok(*only),
        (None, _) => Err(format!(
            "this skill is live in several regions ({}): pass the region whose skill endpoint received the AcceptGrant as ?region=NA, EU or FE",
            list()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messaging_credentials_are_one_bounded_token() {
        assert!(validate_lwa_credential("client id", "amzn1.application-oa2-client.0a1b", MAX_LWA_CLIENT_ID).is_ok());
        for bad in ["", "two words", "tab\there", "caf\u{e9}", &"x".repeat(MAX_LWA_CLIENT_ID + 1)] {
            assert!(validate_lwa_credential("client id", bad, MAX_LWA_CLIENT_ID).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn three_redirect_uris_per_vendor() {
        assert_eq!(
            redirect_uris("M2ABC"),
            vec![
                "https://pitangui.amazon.com/api/skill/link/M2ABC",
                "https://layla.amazon.com/api/skill/link/M2ABC",
                "https://alexa.amazon.co.jp/api/skill/link/M2ABC",
            ]
        );
    }

    #[test]
    fn validates_ids() {
        assert!(validate_vendor_id("M2ABCDEF").is_ok());
        assert!(validate_vendor_id("M2/../x").is_err());
        assert!(validate_vendor_id("").is_err());
        assert!(validate_skill_id("amzn1.ask.skill.1234-abcd").is_ok());
        assert!(validate_skill_id("skill").is_err());
    }

    #[test]
    fn every_kind_needs_360_seconds() {
        for kind in [SkillKind::SmartHome, SkillKind::Video, SkillKind::Music, SkillKind::Custom] {
            assert_eq!(kind.min_access_token_ttl(), 360, "{kind:?}");
        }
        assert_eq!("smart-home".parse::<SkillKind>(), Ok(SkillKind::SmartHome));
        assert!("tv".parse::<SkillKind>().is_err());
        assert_eq!("eu".parse::<AlexaRegion>(), Ok(AlexaRegion::EU));
    }

    #[test]
    fn skill_regions() {
        use AlexaRegion::*;
        assert_eq!(parse_regions("NA"), Ok(vec![NA]));
        assert_eq!(parse_regions("EU NA,eu  FE"), Ok(vec![EU, NA, FE]));
        assert!(parse_regions("").is_err());
        assert!(parse_regions("NA XX").is_err());
        assert_eq!(regions_text(&[EU, NA]), "EU NA");
        assert_eq!(parse_regions(&regions_text(&[FE, EU])), Ok(vec![FE, EU]));
        assert_eq!(accept_grant_region(&[EU], None), Ok(EU));
        assert_eq!(accept_grant_region(&[NA, EU], Some(EU)), Ok(EU));
        assert!(accept_grant_region(&[NA, EU], None).is_err_and(|e| e.contains("?region=")));
        assert!(accept_grant_region(&[NA], Some(FE)).is_err_and(|e| e.contains("not one of")));
    }
}
