//! Identifiers: directory object ids are random GUIDs, as in Entra ID.

use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// A tenant (directory) id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(pub Uuid);

/// The id of any directory object (user, group, application, service principal, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId(pub Uuid);

macro_rules! guid_newtype {
    ($t:ident) => {
        impl $t {
            /// A fresh id: a version 7 GUID (74 random bits after a millisecond timestamp), so
            /// new rows land at the end of primary-key indexes instead of at random places.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
            /// Parses a GUID in any case; returns `None` for anything else.
            pub fn parse(s: &str) -> Option<Self> {
                parse_guid(s).map(Self)
            }
        }
        impl Default for $t {
            fn default() -> Self {
                Self::new()
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }
        impl FromStr for $t {
            type Err = InvalidGuid;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s).ok_or(InvalidGuid)
            }
        }
    };
}
guid_newtype!(TenantId);
guid_newtype!(ObjectId);

/// A string that is not a GUID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a GUID")]
pub struct InvalidGuid;

/// Strictly parses the hyphenated 8-4-4-4-12 GUID form Graph uses (no braces, no urn prefix).
pub fn parse_guid(s: &str) -> Option<Uuid> {
    if s.len() != 36 {
        return None;
    }
    Uuid::try_parse(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_parsing_is_strict_and_case_insensitive() {
        assert!(parse_guid("62E90394-69F5-4237-9190-012177145E10").is_some());
        assert!(parse_guid("62e9039469f542379190012177145e10").is_none());
        assert!(parse_guid("{62e90394-69f5-4237-9190-012177145e10}").is_none());
        assert!(parse_guid("bob@contoso.test").is_none());
        let id = ObjectId::new();
        assert_eq!(ObjectId::parse(&id.to_string().to_uppercase()), Some(id));
    }
}
