//! Who may do what: Graph permission names, built-in directory roles, and the one access rule.
//!
//! An app-only token carries application permissions (`roles`); a delegated token carries scopes
//! (`scp`) and the user's directory roles (`wids`). Every Graph-shaped endpoint names the
//! [`Action`] it performs and asks [`Caller::may`]. Application permissions are granted as app role
//! assignments on the tenant's Microsoft Graph service principal, exactly as in Entra ID.
//!
//! A guest (a user whose `userType` is `Guest`) starts from the guest access level of the
//! tenant's `authorizationPolicy.guestUserRoleId` instead of the member defaults; which objects
//! such a guest may then see is decided by the Graph surface (`portico_http::graph::guest_scope`).

use crate::b2b::GuestAccess;
use crate::ids::{ObjectId, TenantId};

/// The application id of Microsoft Graph, kept so Graph tooling recognises the resource.
pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
/// The resource URI of Microsoft Graph (`https://graph.microsoft.com/.default` is accepted as scope).
pub const GRAPH_RESOURCE: &str = "https://graph.microsoft.com";

/// One Graph permission: its name and the app role id Microsoft Graph gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraphPermission {
    /// `User.Read.All` and so on.
    pub name: &'static str,
    /// The app role id of the application permission.
    pub id: &'static str,
    /// What it allows, in the portal's words.
    pub description: &'static str,
}

macro_rules! perms {
    ($( $name:literal, $id:literal, $desc:literal; )*) => {
        /// Application permissions offered by the Graph-shaped API.
        pub const GRAPH_PERMISSIONS: &[GraphPermission] = &[
            $( GraphPermission { name: $name, id: $id, description: $desc }, )*
        ];
    };
}

perms! {
    "User.Read.All", "df021288-bdef-4463-88db-98f22de89214", "Read all users' full profiles";
    "User.ReadBasic.All", "97235f07-e226-4f63-ace3-39588e11d3a1", "Read all users' basic profiles";
    "User.ReadWrite.All", "741f803b-c850-494e-b5df-cde7c675a1ca", "Read and write all users' full profiles";
    "User.Invite.All", "09850681-111b-4a89-9bed-3f2cae46d706", "Invite guest users to the organization";
    "Group.Read.All", "5b567255-7703-4780-807c-7be8301ae99b", "Read all groups";
    "Group.ReadWrite.All", "62a82d76-70ea-41e2-9197-370581804d09", "Read and write all groups";
    "GroupMember.Read.All", "98830695-27a2-44f7-8c18-0c3ebc9698f6", "Read all group memberships";
    "GroupMember.ReadWrite.All", "dbaae8cf-10b5-4b86-a4a1-f871c94c6695", "Read and write all group memberships";
    "Application.Read.All", "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30", "Read all applications";
    "Application.ReadWrite.All", "1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9", "Read and write all applications";
    "AppRoleAssignment.ReadWrite.All", "06b708a9-e830-4db3-a914-8e69da51d44f", "Manage app permission grants and app role assignments";
    "Directory.Read.All", "7ab1d382-f21e-4acd-a863-ba3e13f7da61", "Read directory data";
    "Directory.ReadWrite.All", "19dbc75e-c2e2-444c-a770-ec69d8559fc7", "Read and write directory data";
    "RoleManagement.Read.Directory", "483bed4a-2ad3-4361-a73b-c83ccdbdc53c", "Read all directory RBAC settings";
    "RoleManagement.ReadWrite.Directory", "9e3f62cf-ca93-4989-b6ce-bf83c28f9fe8", "Read and write all directory RBAC settings";
    "AuditLog.Read.All", "b0afded3-3588-46d8-8b3d-9842eff778da", "Read all audit log data";
    "Organization.Read.All", "498476ce-e0fe-48b0-b801-37ba7e2685c6", "Read organization information";
    "Organization.ReadWrite.All", "292d869f-3427-49a8-9dab-8c70152b74e9", "Read and write organization information";
    "Domain.Read.All", "dbb9058a-0e50-45d7-ae91-66909b5d4664", "Read domains";
    "Domain.ReadWrite.All", "7e05723c-0bb0-42da-be95-ae9f08a6e53c", "Read and write domains";
    "Policy.Read.All", "246dd0d5-5bd0-4def-940b-0421030a5b68", "Read your organization's policies";
    "Policy.ReadWrite.Authorization", "fb221be6-99f2-473f-bd32-01c6a0e9ca3b", "Read and write your organization's authorization policy";
    "Policy.ReadWrite.ExternalIdentities", "03cc4f92-788e-4ede-b93f-199424d144a5", "Read and write your organization's external identities policy";
    "Policy.ReadWrite.AuthenticationMethod", "29c18626-4985-4dcd-85c0-193eef327366", "Read and write all authentication method policies";
    "Policy.ReadWrite.CrossTenantAccess", "338163d7-f101-4c92-94ba-ca46fe52447c", "Read and write your organization's cross tenant access policies";
    "Policy.ReadWrite.ConditionalAccess", "01c0a623-fc9b-48e9-b794-0756f8e8f067", "Read and write your organization's conditional access policies";
    "Policy.ReadWrite.SecurityDefaults", "1c6e93a6-28e2-4cbb-9f64-1a46a821124d", "Read and write your organization's security defaults policy";
    "IdentityProvider.Read.All", "e321f0bb-e7f7-481e-bb28-e3b0b32d4bd0", "Read identity providers";
    "IdentityProvider.ReadWrite.All", "90db2b9a-d928-4d33-a4dd-8442ae3d41e4", "Read and write identity providers";
}

/// Looks a permission up by name, case-insensitively, returning the canonical entry.
pub fn permission_by_name(name: &str) -> Option<&'static GraphPermission> {
    GRAPH_PERMISSIONS.iter().find(|p| p.name.eq_ignore_ascii_case(name))
}

/// Looks a permission up by its app role id.
pub fn permission_by_id(id: &str) -> Option<&'static GraphPermission> {
    GRAPH_PERMISSIONS.iter().find(|p| p.id.eq_ignore_ascii_case(id))
}

/// A delegated permission (an `oauth2PermissionScope` of Microsoft Graph): what a user can let an
/// application do on their behalf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DelegatedScope {
    /// `User.Read` and so on.
    pub name: &'static str,
    /// The scope id Microsoft Graph gives it.
    pub id: &'static str,
    /// Only an administrator may consent (Entra's "Admin consent required").
    pub admin_consent: bool,
    /// What the user is asked to allow.
    pub description: &'static str,
}

macro_rules! scopes {
    ($( $name:literal, $id:literal, $admin:literal, $desc:literal; )*) => {
        /// Delegated scopes of the Graph-shaped API (and the OpenID Connect scopes, which Entra
        /// lists among Graph's).
        pub const GRAPH_SCOPES: &[DelegatedScope] = &[
            $( DelegatedScope { name: $name, id: $id, admin_consent: $admin, description: $desc }, )*
        ];
    };
}

scopes! {
    "openid", "37f7f235-527c-4136-accd-4a02d197296e", false, "Sign you in";
    "profile", "14dad69e-099b-42c9-810b-d002981feec1", false, "View your basic profile";
    "email", "64a6cdd6-aab1-4aaf-94b8-3cc8405e90d0", false, "View your email address";
    "offline_access", "7427e0e9-2fba-42fe-b0c0-848c9e6a8182", false, "Maintain access to data you have given it access to";
    "User.Read", "e1fe6dd8-ba31-4d61-89e7-88639da4683d", false, "Sign you in and read your profile";
    "User.ReadBasic.All", "b340eb25-3456-403f-be2f-af7a0d370277", false, "Read all users' basic profiles";
    "User.Read.All", "a154be20-db9c-4678-8ab7-66f6cc099a59", true, "Read all users' full profiles";
    "User.ReadWrite.All", "204e0828-b5ca-4ad8-b9f3-f32a958e7cc4", true, "Read and write all users' full profiles";
    "User.Invite.All", "63dd7cd9-b489-4adf-a28c-ac38b9a0f962", true, "Invite guest users to the organization";
    "Group.Read.All", "5f8c59db-677d-491f-a6b8-5f174b11ec1d", true, "Read all groups";
    "Group.ReadWrite.All", "4e46008b-f24c-477d-8fff-7bb4ec7aafe0", true, "Read and write all groups";
    "GroupMember.Read.All", "bc024368-1153-4739-b217-4326f2e966d0", true, "Read group memberships";
    "Application.Read.All", "c79f8feb-a9db-4090-85f9-90d820caa0eb", true, "Read applications";
    "Directory.Read.All", "06da0dbc-49e2-44d2-8312-53f166ab848a", true, "Read directory data";
    "Directory.ReadWrite.All", "c5366453-9fb0-48a5-a156-24f0c49a4b84", true, "Read and write directory data";
    "Directory.AccessAsUser.All", "0e263e50-5827-48a4-b97c-d940288653c7", true, "Access the directory as you";
    "RoleManagement.Read.Directory", "741c54c3-0c1e-44a1-818b-3f97ab4e8c83", true, "Read your organization's directory roles";
    "AuditLog.Read.All", "e4c9e354-4dc5-45b8-9e7c-e1393b0b1a20", true, "Read audit log data";
    "Policy.Read.All", "572fea84-0151-49b2-9301-11cb16974376", true, "Read your organization's policies";
    "Policy.ReadWrite.Authorization", "edd3c878-b384-41fd-95ad-e7407dd775be", true, "Read and write your organization's authorization policy";
    "Policy.ReadWrite.ExternalIdentities", "b5219784-1215-45b5-b3f1-88fe1081f9c0", true, "Read and write your organization's external identities policy";
    "Policy.ReadWrite.AuthenticationMethod", "7e823077-d88e-468f-a337-e18f1f0e6c7c", true, "Read and write all authentication method policies";
    "Policy.ReadWrite.CrossTenantAccess", "014b43d0-6ed4-4fc6-84dc-4b6f7bae7d85", true, "Read and write your organization's cross tenant access policies";
    "IdentityProvider.Read.All", "43781733-b5a7-4d1b-98f4-e8edff23e1a9", true, "Read identity providers";
    "IdentityProvider.ReadWrite.All", "f13ce604-1677-429f-90bd-8a10b9f01325", true, "Read and write identity providers";
}

/// The OpenID Connect scopes: they shape the ID token rather than the access token.
pub const OIDC_SCOPES: &[&str] = &["openid", "profile", "email", "offline_access"];

/// Looks a delegated Graph scope up by name, case-insensitively.
pub fn scope_by_name(name: &str) -> Option<&'static DelegatedScope> {
    GRAPH_SCOPES.iter().find(|s| s.name.eq_ignore_ascii_case(name))
}

/// Scopes that let a user read their own profile (`/me`).
pub const READ_SELF_SCOPES: &[&str] = &[
    "User.Read",
    "User.ReadWrite",
    "User.ReadBasic.All",
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
    "Directory.AccessAsUser.All",
];

/// Directory roles whose holders may grant tenant-wide (admin) consent, as in Entra: Global
/// Administrator and Application Administrator.
pub const ADMIN_CONSENT_ROLES: &[&str] = &[GLOBAL_ADMINISTRATOR, "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3"];

/// What a request does, at the granularity permissions are granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Read users.
    UsersRead,
    /// Create, update, delete and restore users.
    UsersWrite,
    /// Invite guests.
    UsersInvite,
    /// Read groups and memberships.
    GroupsRead,
    /// Create, update and delete groups.
    GroupsWrite,
    /// Add and remove group members and owners.
    GroupMembersWrite,
    /// Read applications and service principals.
    AppsRead,
    /// Create, update and delete applications and service principals, and their secrets.
    AppsWrite,
    /// Grant and revoke app role assignments.
    AppRoleAssignmentsWrite,
    /// Read directory role definitions and assignments.
    RolesRead,
    /// Assign and unassign directory roles.
    RolesWrite,
    /// Read the audit and sign-in logs.
    AuditRead,
    /// Read the organization.
    OrgRead,
    /// Update the organization.
    OrgWrite,
    /// Read domains.
    DomainsRead,
    /// Add, verify and remove domains.
    DomainsWrite,
    /// Read policies.
    PolicyRead,
    /// Change the authorization policy (`Policy.ReadWrite.Authorization`).
    AuthorizationPolicyWrite,
    /// Change the B2B management policy, the invitation domain list. Graph asks for
    /// `Policy.ReadWrite.B2BManagementPolicy`, which Portico's catalog does not carry yet; the
    /// authorization policy's permission stands in (both are Entra's "External collaboration
    /// settings"). Delegated: Global Administrator only, as in Entra.
    B2BManagementPolicyWrite,
    /// Change the external identities policy (`Policy.ReadWrite.ExternalIdentities`).
    ExternalIdentitiesPolicyWrite,
    /// Change authentication method configurations (`Policy.ReadWrite.AuthenticationMethod`).
    AuthenticationMethodsPolicyWrite,
    /// Turn security defaults on or off (`Policy.ReadWrite.SecurityDefaults`, or
    /// `Policy.ReadWrite.ConditionalAccess` as Graph's documentation long listed).
    SecurityDefaultsWrite,
    /// Change the cross-tenant access settings (`Policy.ReadWrite.CrossTenantAccess` only: the
    /// Conditional Access Administrator does not get it, as in Entra).
    CrossTenantAccessWrite,
    /// Read identity providers and SAML direct federations.
    IdentityProvidersRead,
    /// Add, change and remove identity providers and SAML direct federations.
    IdentityProvidersWrite,
}

/// Every action, for catalogs and tests.
pub const ALL_ACTIONS: &[Action] = &[
    Action::UsersRead,
    Action::UsersWrite,
    Action::UsersInvite,
    Action::GroupsRead,
    Action::GroupsWrite,
    Action::GroupMembersWrite,
    Action::AppsRead,
    Action::AppsWrite,
    Action::AppRoleAssignmentsWrite,
    Action::RolesRead,
    Action::RolesWrite,
    Action::AuditRead,
    Action::OrgRead,
    Action::OrgWrite,
    Action::DomainsRead,
    Action::DomainsWrite,
    Action::PolicyRead,
    Action::AuthorizationPolicyWrite,
    Action::B2BManagementPolicyWrite,
    Action::ExternalIdentitiesPolicyWrite,
    Action::AuthenticationMethodsPolicyWrite,
    Action::SecurityDefaultsWrite,
    Action::CrossTenantAccessWrite,
    Action::IdentityProvidersRead,
    Action::IdentityProvidersWrite,
];

impl Action {
    /// Application permissions (or delegated scopes of the same name) that allow the action.
    pub fn permissions(self) -> &'static [&'static str] {
        use Action::*;
        match self {
            UsersRead => &[
                "User.Read.All",
                "User.ReadWrite.All",
                "User.ReadBasic.All",
                "Directory.Read.All",
                "Directory.ReadWrite.All",
            ],
            UsersWrite => &["User.ReadWrite.All", "Directory.ReadWrite.All"],
            UsersInvite => &["User.Invite.All", "User.ReadWrite.All", "Directory.ReadWrite.All"],
            GroupsRead => &[
                "Group.Read.All",
                "Group.ReadWrite.All",
                "GroupMember.Read.All",
                "GroupMember.ReadWrite.All",
                "Directory.Read.All",
                "Directory.ReadWrite.All",
            ],
            GroupsWrite => &["Group.ReadWrite.All", "Directory.ReadWrite.All"],
            GroupMembersWrite => &["GroupMember.ReadWrite.All", "Group.ReadWrite.All", "Directory.ReadWrite.All"],
            AppsRead => {
                &["Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"]
            }
            AppsWrite => &["Application.ReadWrite.All"],
            AppRoleAssignmentsWrite => &["AppRoleAssignment.ReadWrite.All", "Directory.ReadWrite.All"],
            RolesRead => &[
                "RoleManagement.Read.Directory",
                "RoleManagement.ReadWrite.Directory",
                "Directory.Read.All",
                "Directory.ReadWrite.All",
            ],
            RolesWrite => &["RoleManagement.ReadWrite.Directory"],
            AuditRead => &["AuditLog.Read.All"],
            OrgRead => &[
                "Organization.Read.All",
                "Organization.ReadWrite.All",
                "Directory.Read.All",
                "Directory.ReadWrite.All",
                "User.Read.All",
            ],
            OrgWrite => &["Organization.ReadWrite.All"],
            DomainsRead => {
                &["Domain.Read.All", "Domain.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"]
            }
            DomainsWrite => &["Domain.ReadWrite.All"],
            PolicyRead => &[
                "Policy.Read.All",
                "Policy.ReadWrite.Authorization",
                "Policy.ReadWrite.CrossTenantAccess",
                "Policy.ReadWrite.ConditionalAccess",
                "Policy.ReadWrite.SecurityDefaults",
                "Policy.ReadWrite.ExternalIdentities",
                "Policy.ReadWrite.AuthenticationMethod",
            ],
            AuthorizationPolicyWrite | B2BManagementPolicyWrite => &["Policy.ReadWrite.Authorization"],
            ExternalIdentitiesPolicyWrite => &["Policy.ReadWrite.ExternalIdentities"],
            AuthenticationMethodsPolicyWrite => &["Policy.ReadWrite.AuthenticationMethod"],
            SecurityDefaultsWrite => &["Policy.ReadWrite.SecurityDefaults", "Policy.ReadWrite.ConditionalAccess"],
            CrossTenantAccessWrite => &["Policy.ReadWrite.CrossTenantAccess"],
            IdentityProvidersRead => &["IdentityProvider.Read.All", "IdentityProvider.ReadWrite.All"],
            IdentityProvidersWrite => &["IdentityProvider.ReadWrite.All"],
        }
    }

    /// Whether it only reads.
    pub fn is_read(self) -> bool {
        use Action::*;
        matches!(
            self,
            UsersRead
                | GroupsRead
                | AppsRead
                | RolesRead
                | AuditRead
                | OrgRead
                | DomainsRead
                | PolicyRead
                | IdentityProvidersRead
        )
    }

    /// Whether an ordinary member may do it with a delegated token and no directory role
    /// (Entra's default user permissions: members read the directory).
    pub fn member_default(self) -> bool {
        use Action::*;
        matches!(self, UsersRead | GroupsRead | AppsRead | OrgRead | DomainsRead | RolesRead)
    }

    /// Whether a guest with limited or restricted access may attempt it with no directory role.
    /// Entra's default guest permissions read users, groups (within limits the Graph surface
    /// applies per object) and the organization's name and domains; applications, roles, domains
    /// and logs are out of reach.
    pub fn guest_default(self) -> bool {
        use Action::*;
        matches!(self, UsersRead | GroupsRead | OrgRead)
    }
}

/// A built-in directory role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltInRole {
    /// The role template id, equal to the role definition id for built-in roles.
    pub template_id: &'static str,
    /// Display name.
    pub display_name: &'static str,
    /// Description.
    pub description: &'static str,
    /// Actions the role allows beyond member defaults.
    pub actions: &'static [Action],
}

const READS: &[Action] = &[
    Action::UsersRead,
    Action::GroupsRead,
    Action::AppsRead,
    Action::RolesRead,
    Action::AuditRead,
    Action::OrgRead,
    Action::DomainsRead,
    Action::PolicyRead,
    Action::IdentityProvidersRead,
];

/// Entra ID's built-in roles that Portico implements, with their template ids.
pub const BUILT_IN_ROLES: &[BuiltInRole] = &[
    BuiltInRole {
        template_id: "62e90394-69f5-4237-9190-012177145e10",
        display_name: "Global Administrator",
        description: "Can manage all aspects of the directory.",
        actions: ALL_ACTIONS,
    },
    BuiltInRole {
        template_id: "fe930be7-5e62-47db-91af-98c3a49a38b1",
        display_name: "User Administrator",
        description: "Can manage all aspects of users and groups, including resetting passwords for limited admins.",
        actions: &[
            Action::UsersRead,
            Action::UsersWrite,
            Action::UsersInvite,
            Action::GroupsRead,
            Action::GroupsWrite,
            Action::GroupMembersWrite,
        ],
    },
    BuiltInRole {
        template_id: "95e79109-95c0-4d8e-aee3-d01accf2d47b",
        display_name: "Guest Inviter",
        description: "Can invite guest users independent of the 'members can invite guests' setting.",
        actions: &[Action::UsersInvite],
    },
    BuiltInRole {
        template_id: "729827e3-9c14-49f7-bb1b-9608f156bbb8",
        display_name: "Helpdesk Administrator",
        description: "Can reset passwords for non-administrators and Helpdesk Administrators.",
        actions: &[Action::UsersRead, Action::GroupsRead],
    },
    BuiltInRole {
        template_id: "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
        display_name: "Application Administrator",
        description: "Can create and manage all aspects of app registrations and enterprise apps.",
        actions: &[Action::AppsRead, Action::AppsWrite, Action::AppRoleAssignmentsWrite],
    },
    BuiltInRole {
        template_id: "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9",
        display_name: "Conditional Access Administrator",
        description: "Can manage Conditional Access capabilities.",
        actions: &[Action::PolicyRead, Action::SecurityDefaultsWrite],
    },
    BuiltInRole {
        template_id: "be2f45a1-457d-42af-a067-6ec1fa63bc45",
        display_name: "External Identity Provider Administrator",
        description: "Can configure identity providers for use in direct federation.",
        actions: &[Action::PolicyRead, Action::IdentityProvidersRead, Action::IdentityProvidersWrite],
    },
    BuiltInRole {
        template_id: "194ae4cb-b126-40b2-bd5b-6091b380977d",
        display_name: "Security Administrator",
        description: "Can read security information and reports, and manage configuration in Microsoft Entra ID.",
        actions: &[
            Action::UsersRead,
            Action::GroupsRead,
            Action::AppsRead,
            Action::RolesRead,
            Action::AuditRead,
            Action::OrgRead,
            Action::DomainsRead,
            Action::PolicyRead,
            Action::AuthorizationPolicyWrite,
            Action::ExternalIdentitiesPolicyWrite,
            Action::AuthenticationMethodsPolicyWrite,
            Action::SecurityDefaultsWrite,
            Action::CrossTenantAccessWrite,
        ],
    },
    BuiltInRole {
        template_id: "f2ef992c-3afb-46b9-b7cf-a126ee74c451",
        display_name: "Global Reader",
        description: "Can read everything that a Global Administrator can, but not update anything.",
        actions: READS,
    },
    BuiltInRole {
        template_id: "45d8d3c5-c802-45c6-b32a-1d70b5e1e86e",
        display_name: "Identity Governance Administrator",
        description: "Manage access using Microsoft Entra ID for identity governance scenarios.",
        actions: &[Action::UsersRead, Action::GroupsRead, Action::AppsRead, Action::AuditRead],
    },
];

/// The Global Administrator template id.
pub const GLOBAL_ADMINISTRATOR: &str = "62e90394-69f5-4237-9190-012177145e10";

/// Looks a built-in role up by template id.
pub fn role_by_id(id: &str) -> Option<&'static BuiltInRole> {
    BUILT_IN_ROLES.iter().find(|r| r.template_id.eq_ignore_ascii_case(id))
}

/// Looks a built-in role up by display name, case-insensitively.
pub fn role_by_name(name: &str) -> Option<&'static BuiltInRole> {
    BUILT_IN_ROLES.iter().find(|r| r.display_name.eq_ignore_ascii_case(name))
}

/// Entra-style resource action strings for a role definition's `rolePermissions`.
pub fn resource_actions(action: Action) -> &'static [&'static str] {
    use Action::*;
    match action {
        UsersRead => &["microsoft.directory/users/standard/read"],
        UsersWrite => &[
            "microsoft.directory/users/create",
            "microsoft.directory/users/delete",
            "microsoft.directory/users/basic/update",
            "microsoft.directory/users/restore",
        ],
        UsersInvite => &["microsoft.directory/users/inviteGuest"],
        GroupsRead => &["microsoft.directory/groups/standard/read", "microsoft.directory/groups/members/read"],
        GroupsWrite => &[
            "microsoft.directory/groups/create",
            "microsoft.directory/groups/delete",
            "microsoft.directory/groups/basic/update",
        ],
        GroupMembersWrite => &["microsoft.directory/groups/members/update", "microsoft.directory/groups/owners/update"],
        AppsRead => {
            &["microsoft.directory/applications/standard/read", "microsoft.directory/servicePrincipals/standard/read"]
        }
        AppsWrite => &[
            "microsoft.directory/applications/allProperties/allTasks",
            "microsoft.directory/servicePrincipals/allProperties/allTasks",
        ],
        AppRoleAssignmentsWrite => &["microsoft.directory/servicePrincipals/appRoleAssignedTo/update"],
        RolesRead => {
            &["microsoft.directory/roleAssignments/standard/read", "microsoft.directory/roleDefinitions/standard/read"]
        }
        RolesWrite => &["microsoft.directory/roleAssignments/allProperties/allTasks"],
        AuditRead => &[
            "microsoft.directory/auditLogs/allProperties/read",
            "microsoft.directory/signInReports/allProperties/read",
        ],
        OrgRead => &["microsoft.directory/organization/standard/read"],
        OrgWrite => &["microsoft.directory/organization/basic/update"],
        DomainsRead => &["microsoft.directory/domains/standard/read"],
        DomainsWrite => &["microsoft.directory/domains/allProperties/allTasks"],
        PolicyRead => &["microsoft.directory/policies/standard/read"],
        AuthorizationPolicyWrite => &["microsoft.directory/authorizationPolicy/allProperties/allTasks"],
        B2BManagementPolicyWrite | ExternalIdentitiesPolicyWrite | AuthenticationMethodsPolicyWrite => {
            &["microsoft.directory/policies/basic/update"]
        }
        SecurityDefaultsWrite => {
            &["microsoft.directory/policies/basic/update", "microsoft.directory/conditionalAccessPolicies/basic/update"]
        }
        CrossTenantAccessWrite => &[
            "microsoft.directory/crossTenantAccessPolicy/default/basic/update",
            "microsoft.directory/crossTenantAccessPolicy/default/b2bCollaboration/update",
        ],
        IdentityProvidersRead => &["microsoft.directory/identityProviders/allProperties/read"],
        IdentityProvidersWrite => &["microsoft.directory/identityProviders/allProperties/allTasks"],
    }
}

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// An application acting as itself (client credentials).
    Application {
        /// The client id.
        app_id: String,
        /// The application's service principal in the caller's tenant.
        service_principal_id: ObjectId,
        /// Its display name, for audit records.
        display_name: String,
    },
    /// A signed-in user, through an application (delegated).
    User {
        /// The user object.
        user_id: ObjectId,
        /// For audit records.
        user_principal_name: String,
        /// The application the user signed in to.
        app_id: String,
    },
}

/// An authenticated caller of the Graph-shaped API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The tenant the token was issued by; every store call is scoped to it.
    pub tenant: TenantId,
    /// The principal.
    pub principal: Principal,
    /// Application permissions (`roles`) of an app-only token.
    pub app_permissions: Vec<String>,
    /// Delegated scopes (`scp`) of a user token.
    pub scopes: Vec<String>,
    /// Directory role template ids (`wids`) of a user token.
    pub role_template_ids: Vec<String>,
    /// For a delegated caller whose user is a guest: the tenant's guest access level at the time
    /// of the request. `None` for members and for applications, which are never guests.
    pub guest: Option<GuestAccess>,
}

impl Caller {
    /// Whether a delegated token carries one of `scopes` (case-insensitive).
    pub fn has_scope(&self, scopes: &[&str]) -> bool {
        self.scopes.iter().any(|s| scopes.iter().any(|a| a.eq_ignore_ascii_case(s)))
    }

    /// The access rule. App-only: one of the action's permissions is among `roles`. Delegated: one
    /// of them (or `Directory.AccessAsUser.All`) is among the scopes, AND the user may do it
    /// (member default or one of the user's roles allows it).
    pub fn may(&self, action: Action) -> bool {
        let allowed = action.permissions();
        match self.principal {
            Principal::Application { .. } => {
                self.app_permissions.iter().any(|p| allowed.iter().any(|a| a.eq_ignore_ascii_case(p)))
            }
            Principal::User { .. } => {
                let scoped = self.scopes.iter().any(|s| {
                    s.eq_ignore_ascii_case("Directory.AccessAsUser.All")
                        || allowed.iter().any(|a| a.eq_ignore_ascii_case(s))
                });
                let by_default = match self.guest {
                    Some(GuestAccess::Limited | GuestAccess::Restricted) => action.guest_default(),
                    Some(GuestAccess::SameAsMembers) | None => action.member_default(),
                };
                scoped && (by_default || self.role_allows(action))
            }
        }
    }

    /// Whether one of the user's directory roles allows `action`.
    fn role_allows(&self, action: Action) -> bool {
        self.role_template_ids.iter().filter_map(|w| role_by_id(w)).any(|r| r.actions.contains(&action))
    }

    /// The guest access level that narrows `action` for this caller: `Some` only for a guest with
    /// limited or restricted access none of whose directory roles allows the action (a role
    /// grants a guest what it grants a member, as in Entra).
    pub fn guest_limit(&self, action: Action) -> Option<GuestAccess> {
        match self.guest {
            Some(level @ (GuestAccess::Limited | GuestAccess::Restricted)) if !self.role_allows(action) => Some(level),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(perms: &[&str]) -> Caller {
        Caller {
            tenant: TenantId::new(),
            principal: Principal::Application {
                app_id: "a".into(),
                service_principal_id: ObjectId::new(),
                display_name: "a".into(),
            },
            app_permissions: perms.iter().map(|s| s.to_string()).collect(),
            scopes: vec![],
            role_template_ids: vec![],
            guest: None,
        }
    }

    fn user(scopes: &[&str], wids: &[&str]) -> Caller {
        Caller {
            tenant: TenantId::new(),
            principal: Principal::User {
                user_id: ObjectId::new(),
                user_principal_name: "u".into(),
                app_id: "a".into(),
            },
            app_permissions: vec![],
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            role_template_ids: wids.iter().map(|s| s.to_string()).collect(),
            guest: None,
        }
    }

    fn guest(level: GuestAccess, wids: &[&str]) -> Caller {
        Caller { guest: Some(level), ..user(&["Directory.Read.All"], wids) }
    }

    #[test]
    fn app_permissions_gate_actions() {
        assert!(app(&["User.Read.All"]).may(Action::UsersRead));
        assert!(!app(&["User.Read.All"]).may(Action::UsersWrite));
        assert!(app(&["directory.readwrite.all"]).may(Action::GroupMembersWrite));
        assert!(!app(&["Directory.ReadWrite.All"]).may(Action::AppsWrite));
        assert!(!app(&[]).may(Action::OrgRead));
    }

    #[test]
    fn each_policy_has_its_own_write_permission() {
        let writes = [
            (Action::AuthorizationPolicyWrite, "Policy.ReadWrite.Authorization"),
            (Action::B2BManagementPolicyWrite, "Policy.ReadWrite.Authorization"),
            (Action::ExternalIdentitiesPolicyWrite, "Policy.ReadWrite.ExternalIdentities"),
            (Action::AuthenticationMethodsPolicyWrite, "Policy.ReadWrite.AuthenticationMethod"),
            (Action::SecurityDefaultsWrite, "Policy.ReadWrite.SecurityDefaults"),
            (Action::CrossTenantAccessWrite, "Policy.ReadWrite.CrossTenantAccess"),
        ];
        let policy_writes: Vec<&str> =
            GRAPH_PERMISSIONS.iter().map(|p| p.name).filter(|n| n.starts_with("Policy.ReadWrite.")).collect();
        for (action, needed) in writes {
            assert!(app(&[needed]).may(action), "{needed} allows {action:?}");
            let others: Vec<&str> = policy_writes.iter().copied().filter(|n| *n != needed).collect();
            let others_allow = action == Action::SecurityDefaultsWrite; // ConditionalAccess too
            assert_eq!(app(&others).may(action), others_allow, "the other policy permissions and {action:?}");
            assert!(!app(&["Policy.Read.All"]).may(action));
        }
        assert!(app(&["Policy.ReadWrite.ConditionalAccess"]).may(Action::SecurityDefaultsWrite));
        assert!(!app(&["Policy.ReadWrite.ConditionalAccess"]).may(Action::AuthorizationPolicyWrite));
        // Delegated: the Conditional Access Administrator turns security defaults on and off and
        // changes nothing else; the B2B management policy is the Global Administrator's alone.
        let scopes =
            ["Directory.AccessAsUser.All", "Policy.ReadWrite.Authorization", "Policy.ReadWrite.ConditionalAccess"];
        let ca = user(&scopes, &["b1be1c3e-b65d-4f19-8427-f6fa0d97feb9"]);
        assert!(ca.may(Action::SecurityDefaultsWrite));
        assert!(!ca.may(Action::AuthorizationPolicyWrite) && !ca.may(Action::B2BManagementPolicyWrite));
        let security = user(&scopes, &["194ae4cb-b126-40b2-bd5b-6091b380977d"]);
        assert!(security.may(Action::AuthorizationPolicyWrite));
        assert!(!security.may(Action::B2BManagementPolicyWrite));
        assert!(user(&scopes, &[GLOBAL_ADMINISTRATOR]).may(Action::B2BManagementPolicyWrite));
    }

    #[test]
    fn delegated_needs_scope_and_role() {
        // A member reads users with the scope, but cannot write without a role.
        assert!(user(&["User.Read.All"], &[]).may(Action::UsersRead));
        assert!(!user(&["User.ReadWrite.All"], &[]).may(Action::UsersWrite));
        assert!(user(&["User.ReadWrite.All"], &["fe930be7-5e62-47db-91af-98c3a49a38b1"]).may(Action::UsersWrite));
        // A role without the scope is not enough.
        assert!(!user(&["User.Read"], &[GLOBAL_ADMINISTRATOR]).may(Action::UsersWrite));
        // Global Reader reads everything and writes nothing.
        let gr = user(&["Directory.AccessAsUser.All"], &["f2ef992c-3afb-46b9-b7cf-a126ee74c451"]);
        assert!(gr.may(Action::AuditRead));
        assert!(!gr.may(Action::UsersWrite));
    }

    #[test]
    fn guests_start_from_their_access_level() {
        let reads = [Action::UsersRead, Action::GroupsRead, Action::AppsRead, Action::OrgRead, Action::DomainsRead];
        // Same as members: exactly a member's defaults.
        let same = guest(GuestAccess::SameAsMembers, &[]);
        let member = user(&["Directory.Read.All"], &[]);
        for a in ALL_ACTIONS {
            assert_eq!(same.may(*a), member.may(*a), "{a:?}");
            assert_eq!(same.guest_limit(*a), None);
        }
        for level in [GuestAccess::Limited, GuestAccess::Restricted] {
            let g = guest(level, &[]);
            assert!(g.may(Action::UsersRead) && g.may(Action::GroupsRead) && g.may(Action::OrgRead));
            for a in [Action::AppsRead, Action::RolesRead, Action::DomainsRead, Action::AuditRead, Action::UsersWrite] {
                assert!(!g.may(a), "{level:?} guest may not {a:?}");
            }
            assert_eq!(g.guest_limit(Action::UsersRead), Some(level));
            // A directory role grants a guest what it grants a member, without limits.
            let reader = guest(level, &["f2ef992c-3afb-46b9-b7cf-a126ee74c451"]);
            for a in reads {
                assert!(reader.may(a), "{level:?} Global Reader guest may {a:?}");
                assert_eq!(reader.guest_limit(a), None);
            }
            // The scope is still needed.
            let unscoped = Caller { scopes: vec!["User.Read".into()], ..guest(level, &[]) };
            assert!(!unscoped.may(Action::UsersRead));
        }
        // Members and applications are never limited.
        assert_eq!(member.guest_limit(Action::UsersRead), None);
        assert_eq!(app(&["User.Read.All"]).guest_limit(Action::UsersRead), None);
    }

    #[test]
    fn catalogs_are_consistent() {
        for a in ALL_ACTIONS {
            for p in a.permissions() {
                assert!(permission_by_name(p).is_some(), "{p} is not in the catalog");
            }
            assert!(!resource_actions(*a).is_empty());
        }
        assert_eq!(BUILT_IN_ROLES.len(), 10);
        assert!(role_by_name("guest inviter").is_some());
        let mut ids: Vec<_> = GRAPH_PERMISSIONS.iter().map(|p| p.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), GRAPH_PERMISSIONS.len());
        let mut scope_ids: Vec<_> = GRAPH_SCOPES.iter().map(|s| s.id).collect();
        scope_ids.sort();
        scope_ids.dedup();
        assert_eq!(scope_ids.len(), GRAPH_SCOPES.len());
        for s in OIDC_SCOPES {
            assert!(scope_by_name(s).is_some_and(|d| !d.admin_consent), "{s} must be user-consentable");
        }
    }
}
