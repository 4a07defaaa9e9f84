//! The Graph-shaped API's route table. One list drives the router, the OpenAPI document and the
//! tenant-isolation test that walks every route.

use axum::routing::{MethodRouter, delete, get, patch, post};
use portico_core::access::Action;

use super::invite_batches;
use super::mail_outbox;
use super::{
    applications as apps, audit_logs, b2b_policies as b2b, cross_tenant_policy as ctap, deleted_items as del, domains,
    federation_configurations as fedc, groups, identity_providers as idp, invitations, organization as org,
    permission_grants as grants, policies, role_management as rm, service_principals as sps, sign_ins, sponsors, users,
};
use crate::app::AppState;

/// One documented route.
pub struct Route {
    /// GET, POST, PATCH, DELETE.
    pub method: &'static str,
    /// Path under `/v1.0`, axum syntax (`/users/{id}`).
    pub path: &'static str,
    /// One line for the OpenAPI document.
    pub summary: &'static str,
    /// What it needs (None: any authenticated caller, e.g. `/me`).
    pub action: Option<Action>,
    /// The handler.
    pub handler: MethodRouter<AppState>,
}

macro_rules! r {
    ($m:ident, $path:literal, $action:expr, $summary:literal, $h:expr) => {
        Route { method: r!(@m $m), path: $path, summary: $summary, action: $action, handler: $m($h) }
    };
    (@m get) => { "GET" };
    (@m post) => { "POST" };
    (@m patch) => { "PATCH" };
    (@m delete) => { "DELETE" };
}

use Action::*;

/// Every Graph-shaped route.
pub fn routes() -> Vec<Route> {
    vec![
        r!(
            post,
            "/invitations",
            Some(UsersInvite),
            "Invite a guest (or reset a guest's redemption, or invite an internal user to B2B)",
            invitations::create_invitation
        ),
        r!(
            post,
            "/portico/inviteBatches",
            Some(UsersInvite),
            "Bulk invite from Entra's bulk-invite CSV (text/csv; 202, runs as a job; Portico extension)",
            invite_batches::create_invite_batch
        ),
        r!(
            get,
            "/portico/inviteBatches/{id}",
            Some(UsersInvite),
            "A bulk invitation's status and counts (Portico extension)",
            invite_batches::get_invite_batch
        ),
        r!(
            get,
            "/portico/inviteBatches/{id}/rows",
            Some(UsersInvite),
            "A bulk invitation's per-row results ($top, $skiptoken, $filter=status eq '...'; Portico extension)",
            invite_batches::list_invite_batch_rows
        ),
        r!(get, "/me", None, "The signed-in user (delegated tokens only)", users::me),
        r!(
            post,
            "/me/revokeSignInSessions",
            None,
            "End the signed-in user's sessions and refresh tokens (delegated tokens only)",
            users::revoke_my_sign_in_sessions
        ),
        r!(get, "/users", Some(UsersRead), "List users", users::list_users),
        r!(post, "/users", Some(UsersWrite), "Create a user", users::create_user),
        r!(get, "/users/$count", Some(UsersRead), "Count users (ConsistencyLevel: eventual)", users::count_users),
        r!(get, "/users/{id}", Some(UsersRead), "Get a user by id or userPrincipalName", users::get_user),
        r!(patch, "/users/{id}", Some(UsersWrite), "Update a user", users::update_user),
        r!(delete, "/users/{id}", Some(UsersWrite), "Delete a user (to deleted items)", users::delete_user),
        r!(
            get,
            "/users/{id}/memberOf",
            Some(GroupsRead),
            "Groups the user is a direct member of",
            users::user_member_of
        ),
        r!(
            get,
            "/users/{id}/transitiveMemberOf",
            Some(GroupsRead),
            "Groups the user belongs to, nesting included",
            users::user_transitive_member_of
        ),
        r!(get, "/users/{id}/ownedObjects", Some(GroupsRead), "Groups the user owns", users::user_owned_objects),
        r!(
            post,
            "/users/{id}/revokeSignInSessions",
            Some(UsersWrite),
            "End every session and refresh token of the user",
            users::revoke_sign_in_sessions
        ),
        r!(
            get,
            "/users/{id}/sponsors",
            Some(UsersRead),
            "The user's sponsors (users and groups)",
            sponsors::list_sponsors
        ),
        r!(post, "/users/{id}/sponsors/$ref", Some(UsersWrite), "Add a sponsor", sponsors::add_sponsor),
        r!(
            delete,
            "/users/{id}/sponsors/{sponsorId}/$ref",
            Some(UsersWrite),
            "Remove a sponsor",
            sponsors::remove_sponsor
        ),
        r!(
            get,
            "/users/{id}/oauth2PermissionGrants",
            Some(AppsRead),
            "Delegated permission grants made for the user",
            grants::list_user_grants
        ),
        r!(
            get,
            "/users/{id}/appRoleAssignments",
            Some(AppsRead),
            "App roles assigned to the user",
            sps::list_user_assignments
        ),
        r!(
            post,
            "/users/{id}/appRoleAssignments",
            Some(AppRoleAssignmentsWrite),
            "Assign an app role to the user",
            sps::create_user_assignment
        ),
        r!(
            delete,
            "/users/{id}/appRoleAssignments/{assignmentId}",
            Some(AppRoleAssignmentsWrite),
            "Remove an app role assignment of the user",
            sps::delete_user_assignment
        ),
        r!(get, "/groups", Some(GroupsRead), "List groups", groups::list_groups),
        r!(post, "/groups", Some(GroupsWrite), "Create a group", groups::create_group),
        r!(get, "/groups/$count", Some(GroupsRead), "Count groups (ConsistencyLevel: eventual)", groups::count_groups),
        r!(get, "/groups/{id}", Some(GroupsRead), "Get a group", groups::get_group),
        r!(patch, "/groups/{id}", Some(GroupsWrite), "Update a group", groups::update_group),
        r!(delete, "/groups/{id}", Some(GroupsWrite), "Delete a group", groups::delete_group),
        r!(get, "/groups/{id}/members", Some(GroupsRead), "Direct members", groups::list_members),
        r!(get, "/groups/{id}/members/$count", Some(GroupsRead), "Count direct members", groups::count_members),
        r!(post, "/groups/{id}/members/$ref", Some(GroupMembersWrite), "Add a member", groups::add_member),
        r!(
            delete,
            "/groups/{id}/members/{memberId}/$ref",
            Some(GroupMembersWrite),
            "Remove a member",
            groups::remove_member
        ),
        r!(
            get,
            "/groups/{id}/members/{cast}",
            Some(GroupsRead),
            "Direct members of one type (OData cast, e.g. microsoft.graph.user)",
            groups::list_members_cast
        ),
        r!(get, "/groups/{id}/owners", Some(GroupsRead), "Owners", groups::list_owners),
        r!(post, "/groups/{id}/owners/$ref", Some(GroupMembersWrite), "Add an owner", groups::add_owner),
        r!(
            delete,
            "/groups/{id}/owners/{ownerId}/$ref",
            Some(GroupMembersWrite),
            "Remove an owner",
            groups::remove_owner
        ),
        r!(
            get,
            "/groups/{id}/transitiveMembers",
            Some(GroupsRead),
            "Members, nesting included",
            groups::list_transitive_members
        ),
        r!(
            get,
            "/groups/{id}/transitiveMembers/{cast}",
            Some(GroupsRead),
            "Members of one type, nesting included (advanced query)",
            groups::list_transitive_members_cast
        ),
        r!(get, "/groups/{id}/memberOf", Some(GroupsRead), "Groups this group is a member of", groups::group_member_of),
        r!(
            get,
            "/groups/{id}/transitiveMemberOf",
            Some(GroupsRead),
            "Groups this group belongs to, nesting included",
            groups::group_transitive_member_of
        ),
        r!(
            get,
            "/groups/{id}/appRoleAssignments",
            Some(AppsRead),
            "App roles assigned to the group",
            sps::list_group_assignments
        ),
        r!(
            post,
            "/groups/{id}/appRoleAssignments",
            Some(AppRoleAssignmentsWrite),
            "Assign an app role to the group",
            sps::create_group_assignment
        ),
        r!(
            delete,
            "/groups/{id}/appRoleAssignments/{assignmentId}",
            Some(AppRoleAssignmentsWrite),
            "Remove an app role assignment of the group",
            sps::delete_group_assignment
        ),
        r!(get, "/applications", Some(AppsRead), "List applications", apps::list_applications),
        r!(post, "/applications", Some(AppsWrite), "Register an application", apps::create_application),
        r!(get, "/applications/{id}", Some(AppsRead), "Get an application", apps::get_application),
        r!(patch, "/applications/{id}", Some(AppsWrite), "Update an application", apps::update_application),
        r!(
            delete,
            "/applications/{id}",
            Some(AppsWrite),
            "Delete an application (to deleted items)",
            apps::delete_application
        ),
        r!(
            post,
            "/applications/{id}/addPassword",
            Some(AppsWrite),
            "Add a client secret (returned once)",
            apps::add_password
        ),
        r!(post, "/applications/{id}/removePassword", Some(AppsWrite), "Remove a client secret", apps::remove_password),
        r!(get, "/servicePrincipals", Some(AppsRead), "List service principals", sps::list_service_principals),
        r!(
            post,
            "/servicePrincipals",
            Some(AppsWrite),
            "Create the service principal of an application",
            sps::create_service_principal
        ),
        r!(get, "/servicePrincipals/{id}", Some(AppsRead), "Get a service principal", sps::get_service_principal),
        r!(
            patch,
            "/servicePrincipals/{id}",
            Some(AppsWrite),
            "Update a service principal",
            sps::update_service_principal
        ),
        r!(
            delete,
            "/servicePrincipals/{id}",
            Some(AppsWrite),
            "Delete a service principal",
            sps::delete_service_principal
        ),
        r!(
            get,
            "/servicePrincipals/{id}/appRoleAssignedTo",
            Some(AppsRead),
            "Assignments of this resource's app roles",
            sps::list_assigned_to
        ),
        r!(
            post,
            "/servicePrincipals/{id}/appRoleAssignedTo",
            Some(AppRoleAssignmentsWrite),
            "Assign one of this resource's app roles",
            sps::create_assigned_to
        ),
        r!(
            delete,
            "/servicePrincipals/{id}/appRoleAssignedTo/{assignmentId}",
            Some(AppRoleAssignmentsWrite),
            "Remove an assignment of this resource's app roles",
            sps::delete_assigned_to
        ),
        r!(
            get,
            "/servicePrincipals/{id}/appRoleAssignments",
            Some(AppsRead),
            "App roles (application permissions) held by the service principal",
            sps::list_sp_assignments
        ),
        r!(
            post,
            "/servicePrincipals/{id}/appRoleAssignments",
            Some(AppRoleAssignmentsWrite),
            "Grant an application permission",
            sps::create_sp_assignment
        ),
        r!(
            delete,
            "/servicePrincipals/{id}/appRoleAssignments/{assignmentId}",
            Some(AppRoleAssignmentsWrite),
            "Revoke an application permission",
            sps::delete_sp_assignment
        ),
        r!(
            get,
            "/servicePrincipals/{id}/oauth2PermissionGrants",
            Some(AppsRead),
            "Delegated permission grants held by the service principal as the client",
            grants::list_sp_grants
        ),
        // Graph's DelegatedPermissionGrant.ReadWrite.All is not in the catalog: writes map onto
        // AppRoleAssignmentsWrite (AppRoleAssignment.ReadWrite.All, Directory.ReadWrite.All).
        r!(get, "/oauth2PermissionGrants", Some(AppsRead), "List delegated permission grants", grants::list_grants),
        r!(
            post,
            "/oauth2PermissionGrants",
            Some(AppRoleAssignmentsWrite),
            "Grant delegated permissions",
            grants::create_grant
        ),
        r!(get, "/oauth2PermissionGrants/{id}", Some(AppsRead), "Get a delegated permission grant", grants::get_grant),
        r!(
            patch,
            "/oauth2PermissionGrants/{id}",
            Some(AppRoleAssignmentsWrite),
            "Change the scopes of a delegated permission grant",
            grants::update_grant
        ),
        r!(
            delete,
            "/oauth2PermissionGrants/{id}",
            Some(AppRoleAssignmentsWrite),
            "Revoke a delegated permission grant",
            grants::delete_grant
        ),
        r!(get, "/organization", Some(OrgRead), "The tenant's organization", org::list_organization),
        r!(get, "/organization/{id}", Some(OrgRead), "Get the organization", org::get_organization),
        r!(
            patch,
            "/organization/{id}",
            Some(OrgWrite),
            "Update the organization (privacy profile, notification mails)",
            org::update_organization
        ),
        r!(get, "/organization/{id}/branding", Some(OrgRead), "Default sign-in branding", org::get_branding),
        r!(
            patch,
            "/organization/{id}/branding",
            Some(OrgWrite),
            "Update default sign-in branding",
            org::update_branding
        ),
        r!(get, "/domains", Some(DomainsRead), "List domains", domains::list_domains),
        r!(post, "/domains", Some(DomainsWrite), "Add a domain (unverified)", domains::create_domain),
        r!(get, "/domains/{id}", Some(DomainsRead), "Get a domain", domains::get_domain),
        r!(patch, "/domains/{id}", Some(DomainsWrite), "Make a domain the default", domains::update_domain),
        r!(delete, "/domains/{id}", Some(DomainsWrite), "Remove a domain", domains::delete_domain),
        r!(
            post,
            "/domains/{id}/verify",
            Some(DomainsWrite),
            "Verify a domain by its DNS TXT record",
            domains::verify_domain
        ),
        r!(
            get,
            "/domains/{id}/verificationDnsRecords",
            Some(DomainsRead),
            "The DNS record that proves ownership",
            domains::verification_records
        ),
        r!(
            get,
            "/roleManagement/directory/roleDefinitions",
            Some(RolesRead),
            "Built-in directory roles",
            rm::list_role_definitions
        ),
        r!(
            get,
            "/roleManagement/directory/roleDefinitions/{id}",
            Some(RolesRead),
            "Get a role definition",
            rm::get_role_definition
        ),
        r!(
            get,
            "/roleManagement/directory/roleAssignments",
            Some(RolesRead),
            "List role assignments",
            rm::list_role_assignments
        ),
        r!(
            post,
            "/roleManagement/directory/roleAssignments",
            Some(RolesWrite),
            "Assign a directory role",
            rm::create_role_assignment
        ),
        r!(
            get,
            "/roleManagement/directory/roleAssignments/{id}",
            Some(RolesRead),
            "Get a role assignment",
            rm::get_role_assignment
        ),
        r!(
            delete,
            "/roleManagement/directory/roleAssignments/{id}",
            Some(RolesWrite),
            "Remove a role assignment",
            rm::delete_role_assignment
        ),
        r!(
            get,
            "/directory/deletedItems/microsoft.graph.user",
            Some(UsersRead),
            "Deleted users",
            del::list_deleted_users
        ),
        r!(
            get,
            "/directory/deletedItems/microsoft.graph.group",
            Some(GroupsRead),
            "Deleted Microsoft 365 groups",
            del::list_deleted_groups
        ),
        r!(
            get,
            "/directory/deletedItems/microsoft.graph.application",
            Some(AppsRead),
            "Deleted applications",
            del::list_deleted_applications
        ),
        // Graph accepts the short `graph.` namespace alias too; Microsoft's SDKs use it.
        r!(
            get,
            "/directory/deletedItems/graph.user",
            Some(UsersRead),
            "Deleted users (namespace alias)",
            del::list_deleted_users
        ),
        r!(
            get,
            "/directory/deletedItems/graph.group",
            Some(GroupsRead),
            "Deleted Microsoft 365 groups (namespace alias)",
            del::list_deleted_groups
        ),
        r!(
            get,
            "/directory/deletedItems/graph.application",
            Some(AppsRead),
            "Deleted applications (namespace alias)",
            del::list_deleted_applications
        ),
        r!(get, "/directory/deletedItems/{id}", None, "Get a deleted item", del::get_deleted_item),
        r!(delete, "/directory/deletedItems/{id}", None, "Delete an item for good", del::purge_deleted_item),
        r!(post, "/directory/deletedItems/{id}/restore", None, "Restore a deleted item", del::restore_deleted_item),
        r!(
            get,
            "/auditLogs/directoryAudits",
            Some(AuditRead),
            "Directory audit log",
            audit_logs::list_directory_audits
        ),
        r!(
            get,
            "/auditLogs/directoryAudits/{id}",
            Some(AuditRead),
            "Get an audit record",
            audit_logs::get_directory_audit
        ),
        r!(get, "/auditLogs/signIns", Some(AuditRead), "Sign-in log", sign_ins::list_sign_ins),
        r!(get, "/auditLogs/signIns/{id}", Some(AuditRead), "Get a sign-in record", sign_ins::get_sign_in),
        r!(
            get,
            "/portico/mailOutbox",
            Some(UsersWrite),
            "Mail the tenant sent or kept (Portico extension; newest first, $top up to 999)",
            mail_outbox::list_mail_outbox
        ),
        r!(
            get,
            "/policies/identitySecurityDefaultsEnforcementPolicy",
            Some(PolicyRead),
            "Security defaults",
            policies::get_security_defaults
        ),
        r!(
            patch,
            "/policies/identitySecurityDefaultsEnforcementPolicy",
            Some(SecurityDefaultsWrite),
            "Turn security defaults on or off (MFA for every sign-in)",
            policies::update_security_defaults
        ),
        r!(
            get,
            "/policies/authorizationPolicy",
            Some(PolicyRead),
            "Authorization policy (who may invite guests, guest access level)",
            b2b::get_authorization_policy
        ),
        r!(
            patch,
            "/policies/authorizationPolicy",
            Some(AuthorizationPolicyWrite),
            "Update the authorization policy",
            b2b::update_authorization_policy
        ),
        r!(
            get,
            "/policies/b2bManagementPolicies",
            Some(PolicyRead),
            "The B2B management policy: domain allow or deny list (Graph beta)",
            b2b::list_b2b_management_policies
        ),
        r!(
            post,
            "/policies/b2bManagementPolicies",
            Some(B2BManagementPolicyWrite),
            "Create the tenant's B2B management policy (one per tenant; Graph beta)",
            b2b::create_b2b_management_policy
        ),
        r!(
            get,
            "/policies/b2bManagementPolicies/{id}",
            Some(PolicyRead),
            "Get the B2B management policy (Graph beta)",
            b2b::get_b2b_management_policy
        ),
        r!(
            patch,
            "/policies/b2bManagementPolicies/{id}",
            Some(B2BManagementPolicyWrite),
            "Update the B2B management policy (Graph beta)",
            b2b::update_b2b_management_policy
        ),
        r!(
            delete,
            "/policies/b2bManagementPolicies/{id}",
            Some(B2BManagementPolicyWrite),
            "Delete the B2B management policy: no domain list (Graph beta)",
            b2b::delete_b2b_management_policy
        ),
        r!(
            get,
            "/policies/externalIdentitiesPolicy",
            Some(PolicyRead),
            "Whether guests may leave the tenant (Graph beta)",
            b2b::get_external_identities_policy
        ),
        r!(
            patch,
            "/policies/externalIdentitiesPolicy",
            Some(ExternalIdentitiesPolicyWrite),
            "Update the external identities policy (Graph beta)",
            b2b::update_external_identities_policy
        ),
        r!(
            get,
            "/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/email",
            Some(PolicyRead),
            "Email one-time passcode settings (guests' code and session lifetimes)",
            b2b::get_email_method
        ),
        r!(
            patch,
            "/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/email",
            Some(AuthenticationMethodsPolicyWrite),
            "Update email one-time passcode settings",
            b2b::update_email_method
        ),
        r!(
            get,
            "/identity/identityProviders",
            Some(IdentityProvidersRead),
            "Identity providers for guests: built-in email one-time passcode, Google, Microsoft, OpenID Connect, SAML",
            idp::list_identity_providers
        ),
        r!(
            post,
            "/identity/identityProviders",
            Some(IdentityProvidersWrite),
            "Add a Google or Microsoft provider (socialIdentityProvider) or an OpenID Connect provider",
            idp::create_identity_provider
        ),
        r!(
            get,
            "/identity/identityProviders/availableProviderTypes()",
            Some(IdentityProvidersRead),
            "The identity provider types Portico can configure",
            idp::available_provider_types
        ),
        r!(
            get,
            "/identity/identityProviders/availableProviderTypes",
            Some(IdentityProvidersRead),
            "The identity provider types Portico can configure (without parentheses)",
            idp::available_provider_types
        ),
        r!(
            get,
            "/identity/identityProviders/{id}",
            Some(IdentityProvidersRead),
            "Get an identity provider",
            idp::get_identity_provider
        ),
        r!(
            patch,
            "/identity/identityProviders/{id}",
            Some(IdentityProvidersWrite),
            "Update an identity provider (the type cannot change; the secret is write-only)",
            idp::update_identity_provider
        ),
        r!(
            delete,
            "/identity/identityProviders/{id}",
            Some(IdentityProvidersWrite),
            "Delete an identity provider and its domain routes (linked guests can no longer sign in through it)",
            idp::delete_identity_provider
        ),
        r!(
            get,
            "/directory/federationConfigurations",
            Some(IdentityProvidersRead),
            "Federation configurations (SAML direct federations)",
            fedc::list_federations
        ),
        r!(
            get,
            "/directory/federationConfigurations/graph.samlOrWsFedExternalDomainFederation",
            Some(IdentityProvidersRead),
            "SAML direct federations ($filter=domains/any(x: x/id eq '...'), $expand=domains)",
            fedc::list_federations
        ),
        r!(
            get,
            "/directory/federationConfigurations/microsoft.graph.samlOrWsFedExternalDomainFederation",
            Some(IdentityProvidersRead),
            "SAML direct federations (full namespace)",
            fedc::list_federations
        ),
        r!(
            post,
            "/directory/federationConfigurations/graph.samlOrWsFedExternalDomainFederation",
            Some(IdentityProvidersWrite),
            "Federate with a partner's SAML identity provider by domain",
            fedc::create_federation
        ),
        r!(
            post,
            "/directory/federationConfigurations/microsoft.graph.samlOrWsFedExternalDomainFederation",
            Some(IdentityProvidersWrite),
            "Federate with a partner's SAML identity provider by domain (full namespace)",
            fedc::create_federation
        ),
        r!(
            get,
            "/directory/federationConfigurations/{id}",
            Some(IdentityProvidersRead),
            "Get a SAML direct federation ($expand=domains)",
            fedc::get_federation
        ),
        r!(
            patch,
            "/directory/federationConfigurations/{id}",
            Some(IdentityProvidersWrite),
            "Update a SAML direct federation",
            fedc::update_federation
        ),
        r!(
            delete,
            "/directory/federationConfigurations/{id}",
            Some(IdentityProvidersWrite),
            "Delete a SAML direct federation and its domains",
            fedc::delete_federation
        ),
        r!(
            get,
            "/directory/federationConfigurations/graph.samlOrWsFedExternalDomainFederation/{id}/domains",
            Some(IdentityProvidersRead),
            "Domains of a SAML direct federation",
            fedc::list_domains
        ),
        r!(
            get,
            "/directory/federationConfigurations/microsoft.graph.samlOrWsFedExternalDomainFederation/{id}/domains",
            Some(IdentityProvidersRead),
            "Domains of a SAML direct federation (full namespace)",
            fedc::list_domains
        ),
        r!(
            get,
            "/directory/federationConfigurations/{id}/microsoft.graph.samlOrWsFedExternalDomainFederation/domains",
            Some(IdentityProvidersRead),
            "Domains of a SAML direct federation (cast after the id)",
            fedc::list_domains
        ),
        r!(
            post,
            "/directory/federationConfigurations/graph.samlOrWsFedExternalDomainFederation/{id}/domains",
            Some(IdentityProvidersWrite),
            "Add a domain to a SAML direct federation",
            fedc::add_domain
        ),
        r!(
            post,
            "/directory/federationConfigurations/microsoft.graph.samlOrWsFedExternalDomainFederation/{id}/domains",
            Some(IdentityProvidersWrite),
            "Add a domain to a SAML direct federation (full namespace)",
            fedc::add_domain
        ),
        r!(
            post,
            "/directory/federationConfigurations/{id}/microsoft.graph.samlOrWsFedExternalDomainFederation/domains",
            Some(IdentityProvidersWrite),
            "Add a domain to a SAML direct federation (cast after the id)",
            fedc::add_domain
        ),
        r!(
            delete,
            "/directory/federationConfigurations/graph.samlOrWsFedExternalDomainFederation/{id}/domains/{domainName}",
            Some(IdentityProvidersWrite),
            "Remove a domain from a SAML direct federation",
            fedc::remove_domain
        ),
        r!(
            delete,
            "/directory/federationConfigurations/microsoft.graph.samlOrWsFedExternalDomainFederation/{id}/domains/{domainName}",
            Some(IdentityProvidersWrite),
            "Remove a domain from a SAML direct federation (full namespace)",
            fedc::remove_domain
        ),
        r!(
            delete,
            "/directory/federationConfigurations/{id}/microsoft.graph.samlOrWsFedExternalDomainFederation/domains/{domainName}",
            Some(IdentityProvidersWrite),
            "Remove a domain from a SAML direct federation (cast after the id)",
            fedc::remove_domain
        ),
        r!(
            get,
            "/policies/crossTenantAccessPolicy",
            Some(PolicyRead),
            "Cross-tenant access policy (one cloud: no allowedCloudEndpoints)",
            ctap::get_cross_tenant_access_policy
        ),
        r!(
            get,
            "/policies/crossTenantAccessPolicy/default",
            Some(PolicyRead),
            "Cross-tenant access default: redemption order, outbound B2B collaboration (Entra's defaults merged)",
            ctap::get_default
        ),
        r!(
            patch,
            "/policies/crossTenantAccessPolicy/default",
            Some(CrossTenantAccessWrite),
            "Change the redemption order and outbound B2B collaboration (other properties: not supported yet)",
            ctap::update_default
        ),
        r!(
            post,
            "/policies/crossTenantAccessPolicy/default/resetToSystemDefault",
            Some(CrossTenantAccessWrite),
            "Reset the cross-tenant access default to Entra's defaults (partners kept)",
            ctap::reset_default
        ),
    ]
}
