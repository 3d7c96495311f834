//! Settings: defaults, then `config.toml` in the kith home. Flags on a
//! command override both. Only privacy defaults live here for now.

use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::model::{PERSON_FIELDS, Privacy};

pub const EXAMPLE: &str = include_str!("../docs/config.example.toml");

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[derive(Default)]
pub struct Settings {
    pub privacy: PrivacySettings,
}

/// Where new items go when a command says neither `--shared` nor `--private`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrivacySettings {
    pub facts: Privacy,
    pub notes: Privacy,
    /// Interaction summaries; their existence, date, channel and people are always shared.
    pub summaries: Privacy,
    pub relationships: Privacy,
    /// Person fields to share although private by default (e.g. "phones").
    pub share_fields: Vec<String>,
    /// Person fields to keep private although shared by default (e.g. "emails").
    pub private_fields: Vec<String>,
}

impl Default for PrivacySettings {
    fn default() -> Self {
        PrivacySettings {
            facts: Privacy::Private,
            notes: Privacy::Private,
            summaries: Privacy::Private,
            relationships: Privacy::Shared,
            share_fields: Vec::new(),
            private_fields: Vec::new(),
        }
    }
}

impl Settings {
    /// Reads `config.toml` if present; a missing file means defaults.
    pub fn load(path: &Path) -> Result<Settings> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Settings::default()),
            Err(e) => return Err(Error::io(path, e)),
        };
        let settings: Settings = toml::from_str(&text).map_err(|e| Error::Settings {
            path: path.to_path_buf(),
            reason: e.message().to_string(),
        })?;
        for f in settings
            .privacy
            .share_fields
            .iter()
            .chain(&settings.privacy.private_fields)
        {
            if !PERSON_FIELDS.iter().any(|(name, _)| name == f) {
                return Err(Error::Settings {
                    path: path.to_path_buf(),
                    reason: format!("'{f}' is not a person field"),
                });
            }
        }
        Ok(settings)
    }

    /// Where a person field goes by default.
    pub fn person_field(&self, field: &str) -> Privacy {
        let p = &self.privacy;
        if p.private_fields.iter().any(|f| f == field) {
            Privacy::Private
        } else if p.share_fields.iter().any(|f| f == field) {
            Privacy::Shared
        } else {
            PERSON_FIELDS
                .iter()
                .find(|(name, _)| *name == field)
                .map(|(_, p)| *p)
                .unwrap_or(Privacy::Private)
        }
    }
}
