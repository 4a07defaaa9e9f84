//! The OData allow-lists: which Graph properties of each entity can be filtered, searched, sorted
//! and selected, and the columns behind them. Only what is listed here ever reaches SQL text.

use portico_odata::{EntitySchema, Field, FieldKind, Ops};

const NONE: Ops = Ops::NONE;
/// eq, ne, in, null.
const EQ: Ops = Ops { eq: true, ne: true, in_: true, null: true, ..Ops::NONE };
/// eq, ne, in, startsWith, null (no endsWith: Graph allows it on mail-like properties only).
const TEXT: Ops = Ops { starts_with: true, ..EQ };
/// TEXT plus endsWith.
const MAILISH: Ops = Ops { ends_with: true, ..TEXT };
const RANGE: Ops = Ops { range: true, ..EQ };
const ANY: Ops = Ops { any: true, eq: true, in_: true, starts_with: true, ..Ops::NONE };

const fn f(name: &'static str, kind: FieldKind, ops: Ops) -> Field {
    Field { name, kind, ops, search: false, selectable: true }
}
const fn text(name: &'static str, column: &'static str, ci_column: &'static str, ops: Ops) -> Field {
    f(name, FieldKind::Text { column, ci_column }, ops)
}
const fn searchable(mut field: Field) -> Field {
    field.search = true;
    field
}
/// A property that can be selected but not filtered.
const fn plain(name: &'static str) -> Field {
    f(name, FieldKind::Text { column: "", ci_column: "" }, NONE)
}
const fn guid(name: &'static str, column: &'static str) -> Field {
    f(name, FieldKind::Guid { column }, EQ)
}

/// microsoft.graph.user
pub static USER: EntitySchema = EntitySchema {
    entity: "User",
    table: "users",
    id_column: "id",
    fields: &[
        guid("id", "id"),
        text("userPrincipalName", "user_principal_name", "upn_ci", MAILISH.with_order()),
        searchable(text("displayName", "display_name", "display_name_ci", TEXT.with_order())),
        text("givenName", "given_name", "given_name_ci", TEXT),
        text("surname", "surname", "surname_ci", TEXT),
        searchable(text("mail", "mail", "mail_ci", MAILISH)),
        text("mailNickname", "mail_nickname", "mail_nickname_ci", TEXT),
        f(
            "otherMails",
            FieldKind::TextCollection {
                table: "user_other_mails",
                owner_column: "user_id",
                value_ci_column: "value_ci",
            },
            ANY,
        ),
        f(
            "identities",
            FieldKind::ComplexCollection {
                table: "user_identities",
                owner_column: "user_id",
                props: &[
                    ("signInType", "sign_in_type_ci"),
                    ("issuer", "issuer_ci"),
                    ("issuerAssignedId", "issuer_assigned_id_ci"),
                ],
            },
            Ops { any: true, eq: true, in_: true, ..Ops::NONE },
        ),
        f("accountEnabled", FieldKind::Bool { column: "account_enabled" }, EQ),
        f("userType", FieldKind::Enum { column: "user_type", values: &["Member", "Guest"] }, EQ),
        f(
            "creationType",
            FieldKind::Enum {
                column: "creation_type",
                values: &["Invitation", "LocalAccount", "EmailVerified", "SelfServiceSignUp"],
            },
            EQ,
        ),
        f(
            "externalUserState",
            FieldKind::Enum { column: "external_user_state", values: &["PendingAcceptance", "Accepted"] },
            EQ,
        ),
        f("externalUserStateChangeDateTime", FieldKind::DateTime { column: "external_user_state_changed_at" }, RANGE),
        f("createdDateTime", FieldKind::DateTime { column: "created_at" }, RANGE),
        text("companyName", "company_name", "company_name_ci", TEXT),
        text("jobTitle", "job_title", "job_title_ci", TEXT),
        text("department", "department", "department_ci", TEXT),
        plain("preferredLanguage"),
        plain("businessPhones"),
        plain("mobilePhone"),
        plain("officeLocation"),
        plain("signInActivity"),
        plain("deletedDateTime"),
        plain("showInAddressList"),
        plain("passwordProfile"),
    ],
};

/// microsoft.graph.group
pub static GROUP: EntitySchema = EntitySchema {
    entity: "Group",
    table: "directory_groups",
    id_column: "id",
    fields: &[
        guid("id", "id"),
        searchable(text("displayName", "display_name", "display_name_ci", TEXT.with_order())),
        text("mailNickname", "mail_nickname", "mail_nickname_ci", TEXT),
        f("mailEnabled", FieldKind::Bool { column: "mail_enabled" }, EQ),
        f("securityEnabled", FieldKind::Bool { column: "security_enabled" }, EQ),
        f("isAssignableToRole", FieldKind::Bool { column: "is_assignable_to_role" }, EQ),
        f("createdDateTime", FieldKind::DateTime { column: "created_at" }, RANGE),
        plain("description"),
        plain("groupTypes"),
        plain("visibility"),
        plain("mail"),
        plain("deletedDateTime"),
        plain("securityIdentifier"),
    ],
};

/// microsoft.graph.application
pub static APPLICATION: EntitySchema = EntitySchema {
    entity: "Application",
    table: "applications",
    id_column: "id",
    fields: &[
        guid("id", "id"),
        guid("appId", "app_id"),
        searchable(text("displayName", "display_name", "display_name_ci", TEXT.with_order())),
        f("createdDateTime", FieldKind::DateTime { column: "created_at" }, RANGE),
        f(
            "signInAudience",
            FieldKind::Enum {
                column: "sign_in_audience",
                values: &[
                    "AzureADMyOrg",
                    "AzureADMultipleOrgs",
                    "AzureADandPersonalMicrosoftAccount",
                    "PersonalMicrosoftAccount",
                ],
            },
            EQ,
        ),
        plain("description"),
        plain("identifierUris"),
        plain("web"),
        plain("spa"),
        plain("publicClient"),
        plain("api"),
        plain("appRoles"),
        plain("requiredResourceAccess"),
        plain("passwordCredentials"),
        plain("keyCredentials"),
        plain("deletedDateTime"),
        plain("publisherDomain"),
        plain("groupMembershipClaims"),
    ],
};

/// microsoft.graph.servicePrincipal
pub static SERVICE_PRINCIPAL: EntitySchema = EntitySchema {
    entity: "ServicePrincipal",
    table: "service_principals",
    id_column: "id",
    fields: &[
        guid("id", "id"),
        guid("appId", "app_id"),
        searchable(text("displayName", "display_name", "display_name_ci", TEXT.with_order())),
        f("accountEnabled", FieldKind::Bool { column: "account_enabled" }, EQ),
        f(
            "servicePrincipalType",
            FieldKind::Enum {
                column: "service_principal_type",
                values: &["Application", "ManagedIdentity", "Legacy", "SocialIdp"],
            },
            EQ,
        ),
        guid("appOwnerOrganizationId", "app_owner_organization_id"),
        plain("appRoleAssignmentRequired"),
        plain("appRoles"),
        plain("appDisplayName"),
        plain("tags"),
        plain("servicePrincipalNames"),
        plain("replyUrls"),
        plain("deletedDateTime"),
        plain("createdDateTime"),
    ],
};

/// microsoft.graph.directoryAudit
pub static DIRECTORY_AUDIT: EntitySchema = EntitySchema {
    entity: "DirectoryAudit",
    table: "audit_logs",
    id_column: "id",
    fields: &[
        guid("id", "id"),
        f("activityDateTime", FieldKind::DateTime { column: "activity_at" }, RANGE.with_order()),
        text("activityDisplayName", "activity_display_name", "activity_display_name_ci", TEXT),
        text("category", "category", "category_ci", TEXT),
        guid("correlationId", "correlation_id"),
        f("result", FieldKind::Enum { column: "result", values: &["success", "failure", "timeout"] }, EQ),
        f(
            "operationType",
            FieldKind::Enum {
                column: "operation_type",
                values: &["Add", "Update", "Delete", "Assign", "Unassign", "Other"],
            },
            EQ,
        ),
        plain("loggedByService"),
        plain("resultReason"),
        plain("initiatedBy"),
        plain("targetResources"),
        plain("additionalDetails"),
    ],
};

/// microsoft.graph.unifiedRoleAssignment
pub static ROLE_ASSIGNMENT: EntitySchema = EntitySchema {
    entity: "UnifiedRoleAssignment",
    table: "role_assignments",
    id_column: "id",
    fields: &[
        f("id", FieldKind::Text { column: "id", ci_column: "id" }, EQ),
        guid("principalId", "principal_id"),
        guid("roleDefinitionId", "role_definition_id"),
        f("directoryScopeId", FieldKind::Text { column: "directory_scope_id", ci_column: "directory_scope_id" }, EQ),
        plain("appScopeId"),
        plain("condition"),
    ],
};

/// microsoft.graph.signIn
pub static SIGN_IN: EntitySchema = EntitySchema {
    entity: "SignIn",
    table: "sign_ins",
    id_column: "id",
    fields: &[
        guid("id", "id"),
        f("createdDateTime", FieldKind::DateTime { column: "created_at" }, RANGE.with_order()),
        guid("userId", "user_id"),
        text("userPrincipalName", "user_principal_name", "upn_ci", TEXT),
        plain("userDisplayName"),
        guid("appId", "app_id"),
        text("appDisplayName", "app_display_name", "app_display_name_ci", TEXT),
        text("ipAddress", "ip_address", "ip_address", TEXT),
        text("clientAppUsed", "client_app_used", "client_app_used", EQ),
        f("isInteractive", FieldKind::Bool { column: "is_interactive" }, EQ),
        f("status/errorCode", FieldKind::Int { column: "error_code" }, RANGE),
        f(
            "conditionalAccessStatus",
            FieldKind::Enum { column: "conditional_access_status", values: &["success", "failure", "notApplied"] },
            EQ,
        ),
        guid("correlationId", "correlation_id"),
        guid("resourceTenantId", "resource_tenant_id"),
        guid("homeTenantId", "home_tenant_id"),
        guid("resourceId", "resource_id"),
        plain("resourceDisplayName"),
        plain("userAgent"),
        plain("status"),
        plain("authenticationDetails"),
        plain("authenticationRequirement"),
        plain("crossTenantAccessType"),
        plain("userType"),
        plain("location"),
    ],
};
