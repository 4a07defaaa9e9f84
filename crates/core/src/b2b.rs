//! B2B collaboration rules that need neither HTTP nor SQL: the invited address, the guest's
//! user principal name, who may invite, the domain allow or deny list, and the guest access
//! levels of `authorizationPolicy.guestUserRoleId`.

use crate::validate;

/// Checks an invited address with Graph's rules for `invitedUserEmailAddress`: the local part
/// may not hold `~ ! # $ % ^ & * ( ) + = [ ] { } \ / | ; : " < > ? ,`; `.` and `-` are allowed
/// except at the start or end, `_` anywhere. Returns (local part, lowercased domain).
pub fn invited_address(s: &str) -> Option<(String, String)> {
    let s = s.trim();
    let (local, _) = s.rsplit_once('@')?;
    if local.chars().any(|c| "~!#$%^&*()+=[]{}\\/|;:\"<>?,'`".contains(c))
        || local.starts_with(['.', '-'])
        || local.ends_with(['.', '-'])
    {
        return None;
    }
    validate::address(s)
}

/// The guest's user principal name: the address with `@` turned into `_`, then
/// `#EXT#@<initial domain>` (`lstokes_fabrikam.com#EXT#@contoso.onmicrosoft.com`).
pub fn guest_upn(local: &str, domain: &str, initial_domain: &str) -> String {
    format!("{}_{}#EXT#@{}", local.to_lowercase(), domain, initial_domain)
}

/// `authorizationPolicy.allowInvitesFrom`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitesFrom {
    /// Nobody, administrators included.
    None,
    /// Global and User Administrators, Guest Inviters.
    AdminsAndGuestInviters,
    /// Those and every member.
    AdminsGuestInvitersAndAllMembers,
    /// Everyone, guests included (Entra's default).
    Everyone,
}

impl InvitesFrom {
    /// Graph's value.
    pub fn as_str(self) -> &'static str {
        match self {
            InvitesFrom::None => "none",
            InvitesFrom::AdminsAndGuestInviters => "adminsAndGuestInviters",
            InvitesFrom::AdminsGuestInvitersAndAllMembers => "adminsGuestInvitersAndAllMembers",
            InvitesFrom::Everyone => "everyone",
        }
    }

    /// Parses Graph's value (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        [
            InvitesFrom::None,
            InvitesFrom::AdminsAndGuestInviters,
            InvitesFrom::AdminsGuestInvitersAndAllMembers,
            InvitesFrom::Everyone,
        ]
        .into_iter()
        .find(|v| v.as_str().eq_ignore_ascii_case(s))
    }
}

/// Who is asking to invite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inviter {
    /// An application with an invite permission, acting as itself.
    Application,
    /// A user holding Global Administrator, User Administrator or Guest Inviter.
    Admin,
    /// A member without such a role.
    Member,
    /// A guest of the tenant.
    Guest,
}

/// Whether the policy lets this inviter invite. App-only calls fail when invitations are off or
/// limited to administrators (Graph's documented rule).
pub fn may_invite(policy: InvitesFrom, who: Inviter) -> bool {
    match (policy, who) {
        (InvitesFrom::None, _) => false,
        (InvitesFrom::AdminsAndGuestInviters, Inviter::Admin) => true,
        (InvitesFrom::AdminsAndGuestInviters, _) => false,
        (InvitesFrom::AdminsGuestInvitersAndAllMembers, Inviter::Guest) => false,
        (InvitesFrom::AdminsGuestInvitersAndAllMembers, _) => true,
        (InvitesFrom::Everyone, _) => true,
    }
}

/// The guest user-role ids of `authorizationPolicy.guestUserRoleId`.
pub mod guest_role {
    /// Same access as members.
    pub const USER: &str = "a0b1b346-4d3e-4e8b-98f8-753987be4970";
    /// Limited access (the default).
    pub const GUEST_USER: &str = "10dae51f-b6af-4016-8d66-8c2a99b929b3";
    /// Restricted to the guest's own objects.
    pub const RESTRICTED_GUEST_USER: &str = "2af84b1e-32c8-42b7-82bc-daa82404023b";
}

/// How much of the directory a guest may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestAccess {
    /// Same as members.
    SameAsMembers,
    /// Own profile; users and groups they share a group with, in a limited view; groups they
    /// belong to with their members. No enumeration of all users or groups.
    Limited,
    /// Own profile and own objects only.
    Restricted,
}

impl GuestAccess {
    /// From a role id; unknown ids mean the default (limited).
    pub fn from_role_id(id: &str) -> Self {
        if id.eq_ignore_ascii_case(guest_role::USER) {
            GuestAccess::SameAsMembers
        } else if id.eq_ignore_ascii_case(guest_role::RESTRICTED_GUEST_USER) {
            GuestAccess::Restricted
        } else {
            GuestAccess::Limited
        }
    }
}

/// The domain allow or deny list (b2bManagementPolicy's `InvitationsAllowedAndBlockedDomainsPolicy`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DomainList {
    /// Any domain.
    #[default]
    Open,
    /// Only these domains (and their subdomains).
    Allow(Vec<String>),
    /// Every domain but these (and their subdomains).
    Block(Vec<String>),
}

impl DomainList {
    /// Reads the list from a b2bManagementPolicy definition
    /// (`{"B2BManagementPolicy":{"InvitationsAllowedAndBlockedDomainsPolicy":{"AllowedDomains":[..]|"BlockedDomains":[..]}}}`).
    pub fn from_definition(def: &serde_json::Value) -> Self {
        let p = &def["B2BManagementPolicy"]["InvitationsAllowedAndBlockedDomainsPolicy"];
        let list = |k: &str| -> Option<Vec<String>> {
            p.get(k).and_then(|v| v.as_array()).map(|a| {
                a.iter().filter_map(|d| d.as_str()).map(|d| d.trim().trim_end_matches('.').to_lowercase()).collect()
            })
        };
        match (list("AllowedDomains"), list("BlockedDomains")) {
            (Some(a), _) if !a.is_empty() => DomainList::Allow(a),
            (_, Some(b)) if !b.is_empty() => DomainList::Block(b),
            (Some(_), _) if p.get("AllowedDomains").is_some() && p.get("BlockedDomains").is_none() => {
                DomainList::Allow(vec![])
            }
            _ => DomainList::Open,
        }
    }

    /// Whether invitations to this (lowercased) domain are allowed. A listed domain covers its
    /// subdomains; `*.example.com` entries are read the same way.
    pub fn allows(&self, domain: &str) -> bool {
        let d = domain.to_lowercase();
        let hit = |list: &[String]| {
            list.iter().any(|e| {
                let e = e.trim_start_matches("*.");
                d == e || d.ends_with(&format!(".{e}"))
            })
        };
        match self {
            DomainList::Open => true,
            DomainList::Allow(list) => hit(list),
            DomainList::Block(list) => !hit(list),
        }
    }
}

/// Consumer mail domains, where an address says nothing about an organisation: they can never
/// become an organization's domain (security checklist 18) nor be claimed for federation.
pub const CONSUMER_DOMAINS: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "hotmail.com",
    "live.com",
    "msn.com",
    "yahoo.com",
    "icloud.com",
    "me.com",
    "aol.com",
    "gmx.com",
    "gmx.de",
    "proton.me",
    "protonmail.com",
    "yandex.ru",
    "mail.ru",
    "qq.com",
    "163.com",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invited_addresses_follow_graphs_rules() {
        assert_eq!(invited_address("Lee.Stokes@Fabrikam.com"), Some(("Lee.Stokes".into(), "fabrikam.com".into())));
        assert!(invited_address("under_score@x.com").is_some());
        for bad in ["a+b@x.com", "a#b@x.com", ".a@x.com", "a-@x.com", "a@x", "no-at-sign", "a@@x.com", "a,b@x.com"] {
            assert_eq!(invited_address(bad), None, "{bad}");
        }
    }

    #[test]
    fn guest_upn_has_the_ext_marker() {
        assert_eq!(
            guest_upn("LStokes", "fabrikam.com", "contoso.portico.localhost"),
            "lstokes_fabrikam.com#EXT#@contoso.portico.localhost"
        );
    }

    #[test]
    fn invite_policy_matrix() {
        use Inviter::*;
        use InvitesFrom::*;
        let table = [
            (None, [false, false, false, false]),
            (AdminsAndGuestInviters, [false, true, false, false]),
            (AdminsGuestInvitersAndAllMembers, [true, true, true, false]),
            (Everyone, [true, true, true, true]),
        ];
        for (policy, expect) in table {
            for (who, want) in [Application, Admin, Member, Guest].into_iter().zip(expect) {
                assert_eq!(may_invite(policy, who), want, "{policy:?} {who:?}");
            }
        }
        assert_eq!(InvitesFrom::parse("EVERYONE"), Some(Everyone));
        assert_eq!(InvitesFrom::parse("sometimes"), Option::None);
    }

    #[test]
    fn domain_lists() {
        let allow = DomainList::from_definition(
            &serde_json::json!({"B2BManagementPolicy":{"InvitationsAllowedAndBlockedDomainsPolicy":{"AllowedDomains":["Fabrikam.com"]}}}),
        );
        assert!(allow.allows("fabrikam.com") && allow.allows("eu.fabrikam.com"));
        assert!(!allow.allows("notfabrikam.com") && !allow.allows("contoso.com"));
        let block = DomainList::from_definition(
            &serde_json::json!({"B2BManagementPolicy":{"InvitationsAllowedAndBlockedDomainsPolicy":{"BlockedDomains":["live.com"]}}}),
        );
        assert!(!block.allows("live.com") && block.allows("fabrikam.com"));
        assert_eq!(DomainList::from_definition(&serde_json::json!({})), DomainList::Open);
    }

    #[test]
    fn guest_levels() {
        assert_eq!(GuestAccess::from_role_id(guest_role::USER), GuestAccess::SameAsMembers);
        assert_eq!(GuestAccess::from_role_id(guest_role::RESTRICTED_GUEST_USER), GuestAccess::Restricted);
        assert_eq!(GuestAccess::from_role_id("whatever"), GuestAccess::Limited);
    }
}
