//! `POST /invitations` (create-only, as in Graph): invites a person from another organisation
//! and answers with the invitation, its `inviteRedeemUrl` and the guest's id. The rules live in
//! [`crate::b2b::invite`].

use axum::extract::State;
use axum::response::Response;
use portico_core::access::Action;
use portico_core::ids::ObjectId;
use serde_json::{Map, Value, json};

use super::auth::Authed;
use super::body::{Access, JsonBody, Kind, Prop, check, object_id_from_ref, p, require};
use super::error::{GraphError, GraphResult};
use super::query::QueryOptions;
use super::wire;
use crate::app::AppState;
use crate::b2b::invite::{InviteInput, Invited, Inviting, MessageInfo, invite};

const PROPS: &[Prop] = &[
    p("invitedUserEmailAddress", Kind::StrRequired, Access::CreateOnly),
    p("inviteRedirectUrl", Kind::StrRequired, Access::CreateOnly),
    p("invitedUserDisplayName", Kind::Str, Access::CreateOnly),
    p("invitedUserType", Kind::Str, Access::CreateOnly),
    p("sendInvitationMessage", Kind::Bool, Access::CreateOnly),
    p("invitedUserMessageInfo", Kind::Object, Access::CreateOnly),
    p("resetRedemption", Kind::Bool, Access::CreateOnly),
    p("invitedUser", Kind::Object, Access::CreateOnly),
    p("invitedUserSponsors", Kind::ObjectList, Access::CreateOnly),
    // Portico: send the invitation mail later (ISO 8601); the guest exists at once.
    p("scheduledSendDateTime", Kind::Str, Access::CreateOnly),
    p("id", Kind::Str, Access::ReadOnly),
    p("inviteRedeemUrl", Kind::Str, Access::ReadOnly),
    p("status", Kind::Str, Access::ReadOnly),
];

fn message_info(v: Option<&Value>) -> Result<MessageInfo, GraphError> {
    let Some(Value::Object(m)) = v else { return Ok(MessageInfo::default()) };
    for k in m.keys() {
        if !["ccRecipients", "customizedMessageBody", "messageLanguage", "@odata.type"].contains(&k.as_str()) {
            return Err(GraphError::unknown_property(k, "invitedUserMessageInfo"));
        }
    }
    let text = |k: &str| -> Result<Option<String>, GraphError> {
        match m.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone()).filter(|s| !s.is_empty())),
            Some(_) => Err(GraphError::invalid_value(k)),
        }
    };
    let mut info = MessageInfo {
        body: text("customizedMessageBody")?,
        language: text("messageLanguage")?,
        ..MessageInfo::default()
    };
    if let Some(l) = &info.language
        && (l.len() > 35 || !l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
    {
        return Err(GraphError::bad_request("messageLanguage must be a language tag such as en-US."));
    }
    match m.get("ccRecipients") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) => {
            let real: Vec<&Value> =
                list.iter().filter(|r| r["emailAddress"]["address"].as_str().is_some_and(|a| !a.is_empty())).collect();
            if real.len() > 1 {
                return Err(GraphError::bad_request("Only one ccRecipient is supported."));
            }
            if let Some(r) = real.first() {
                info.cc = r["emailAddress"]["address"].as_str().map(str::to_owned);
                info.cc_name = r["emailAddress"]["name"].as_str().map(str::to_owned);
            }
        }
        Some(_) => return Err(GraphError::invalid_value("ccRecipients")),
    }
    Ok(info)
}

fn ref_id(v: &Value) -> Option<ObjectId> {
    v.get("id")
        .and_then(Value::as_str)
        .and_then(ObjectId::parse)
        .or_else(|| v.get("@odata.id").and_then(Value::as_str).and_then(object_id_from_ref))
}

/// Reads a Graph invitation body.
pub fn parse(body: &Map<String, Value>, now_ms: i64) -> GraphResult<InviteInput> {
    check(body, "invitation", PROPS, true, &[])?;
    require(body, &["invitedUserEmailAddress", "inviteRedirectUrl"])?;
    let s = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
    let invited_user_id = match body.get("invitedUser") {
        None | Some(Value::Null) => None,
        Some(v) => Some(ref_id(v).ok_or_else(|| GraphError::bad_request("invitedUser.id must be an object id."))?),
    };
    let mut sponsors = vec![];
    for v in body.get("invitedUserSponsors").and_then(Value::as_array).into_iter().flatten() {
        sponsors.push(
            ref_id(v).ok_or_else(|| GraphError::bad_request("invitedUserSponsors holds an entry without an id."))?,
        );
    }
    let send_at = match s("scheduledSendDateTime") {
        None => None,
        Some(t) => {
            let at = time::OffsetDateTime::parse(&t, &time::format_description::well_known::Rfc3339)
                .map_err(|_| GraphError::bad_request("scheduledSendDateTime must be an ISO 8601 date and time."))?;
            let ms = (at.unix_timestamp_nanos() / 1_000_000) as i64;
            Some(ms.max(now_ms))
        }
    };
    Ok(InviteInput {
        email: s("invitedUserEmailAddress").unwrap_or_default(),
        redirect_url: s("inviteRedirectUrl").unwrap_or_default(),
        display_name: s("invitedUserDisplayName"),
        user_type: s("invitedUserType"),
        send_message: body.get("sendInvitationMessage").and_then(Value::as_bool).unwrap_or(false),
        message: message_info(body.get("invitedUserMessageInfo"))?,
        reset_redemption: body.get("resetRedemption").and_then(Value::as_bool).unwrap_or(false),
        invited_user_id,
        sponsors,
        send_at,
    })
}

/// The invitation in Graph's shape.
pub fn render(input: &InviteInput, done: &Invited) -> Value {
    json!({
        "id": done.invitation.id.to_string(),
        "invitedUserDisplayName": input.display_name,
        "invitedUserType": done.user.user_type,
        "invitedUserEmailAddress": done.invitation.email,
        "sendInvitationMessage": input.send_message,
        "resetRedemption": input.reset_redemption,
        "inviteRedirectUrl": done.invitation.redirect_url,
        "inviteRedeemUrl": done.redeem_url,
        "status": done.status,
        "invitedUserMessageInfo": input.message.to_json(),
        "invitedUser": {"id": done.user.id.to_string()},
        "invitedUserSponsors": [],
    })
}

/// Counts this invitation request against the tenant's throttle (Entra: 150 per 5 seconds per
/// tenant, all applications). `Some(ms)`: over the limit, the window ends in `ms`.
async fn throttled(state: &AppState, tenant: portico_core::ids::TenantId) -> GraphResult<Option<i64>> {
    let limit = state.dir.settings.b2b.invitations_per_window;
    if limit == 0 {
        return Ok(None);
    }
    let now = state.now_ms();
    let window = crate::settings::INVITATION_WINDOW_MS;
    let (count, start) = {
        let mut conn = state.conn().await?;
        portico_store::throttle::hit(&mut conn, &format!("invitations:{tenant}"), now, window).await?
    };
    Ok((count > i64::from(limit)).then_some((start + window - now).max(1)))
}

/// Graph's 429: the error envelope, Retry-After in whole seconds, and the throttle headers.
fn too_many_invitations(caller: &portico_core::access::Caller, wait_ms: i64, limit: u32) -> Response {
    let e = GraphError::new(
        axum::http::StatusCode::TOO_MANY_REQUESTS,
        "TooManyRequests",
        format!(
            "Too many invitations for this organization: at most {limit} every 5 seconds. Retry after the number of seconds in the Retry-After header."
        ),
    );
    let mut r = axum::response::IntoResponse::into_response(e);
    let seconds = (wait_ms + 999) / 1000;
    let app_id = match &caller.principal {
        portico_core::access::Principal::Application { app_id, .. }
        | portico_core::access::Principal::User { app_id, .. } => app_id.clone(),
    };
    let scope = format!("Tenant/Write/{app_id}/{}", caller.tenant);
    for (name, value) in [
        ("retry-after", seconds.to_string()),
        ("x-ms-throttle-scope", scope),
        ("x-ms-throttle-information", "WriteLimitExceeded".to_string()),
    ] {
        if let Ok(v) = axum::http::HeaderValue::from_str(&value) {
            r.headers_mut().insert(name, v);
        }
    }
    r
}

/// POST /invitations
pub async fn create_invitation(
    auth: Authed,
    State(state): State<AppState>,
    opts: QueryOptions,
    JsonBody(body): JsonBody,
) -> GraphResult<Response> {
    let caller = auth.require(Action::UsersInvite)?.clone();
    if let Some(wait_ms) = throttled(&state, caller.tenant).await? {
        return Ok(too_many_invitations(&caller, wait_ms, state.dir.settings.b2b.invitations_per_window));
    }
    let input = parse(&body, state.now_ms())?;
    let who = Inviting::of(&state, &caller).await?;
    // Sponsors must be users or groups of this tenant.
    if !input.sponsors.is_empty() {
        let mut conn = state.conn().await?;
        for s in &input.sponsors {
            let kind = portico_store::groups::resolve_object(&mut conn, caller.tenant, *s).await?;
            if !matches!(
                kind,
                Some(portico_store::groups::ObjectKind::User) | Some(portico_store::groups::ObjectKind::Group)
            ) {
                return Err(GraphError::bad_request(format!(
                    "Sponsor '{s}' is not a user or group of this organization."
                )));
            }
        }
    }
    let done = invite(&state, caller.tenant, &input, &who).await?;
    Ok(wire::created(&state.dir.settings.public_url, &opts, "invitations", render(&input, &done)))
}
