//! Graph's query options and their rules: `$filter`, `$search`, `$orderby`, `$select`, `$top`,
//! `$count`, `$skiptoken`, and the `ConsistencyLevel: eventual` gate on advanced queries.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use portico_odata::{Dialect, EntitySchema};
use portico_store::list::{Cond, List};

use super::error::GraphError;

/// Default page size for directory collections.
pub const DEFAULT_TOP: usize = 100;
/// Largest page size.
pub const MAX_TOP: usize = 999;

/// The query options of a request.
#[derive(Debug, Clone, Default)]
pub struct QueryOptions {
    /// `$filter`.
    pub filter: Option<String>,
    /// `$search`.
    pub search: Option<String>,
    /// `$orderby`.
    pub orderby: Option<String>,
    /// `$select`.
    pub select: Option<String>,
    /// `$top`.
    pub top: Option<usize>,
    /// `$count=true`.
    pub count: bool,
    /// `$skiptoken`.
    pub skiptoken: Option<String>,
    /// `ConsistencyLevel: eventual` was sent.
    pub eventual: bool,
    /// The request path (for `@odata.nextLink`).
    pub path: String,
    /// Every pair as sent, in order (for `@odata.nextLink`).
    pub pairs: Vec<(String, String)>,
}

/// The validated plan for a list request.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Conditions from `$filter` and `$search`.
    pub conds: Vec<Cond>,
    /// Sort keys.
    pub order: Vec<(&'static str, bool)>,
    /// Page size.
    pub top: usize,
    /// Count all matches.
    pub count: bool,
    /// Selected properties (empty: the default set).
    pub select: Vec<&'static str>,
}

/// Rows of the caller's tenant: live ones, or soft-deleted ones for `/directory/deletedItems`.
pub fn tenant_scope(tenant: portico_core::ids::TenantId, deleted: bool) -> Cond {
    let sql =
        if deleted { "tenant_id = $1 AND deleted_at IS NOT NULL" } else { "tenant_id = $1 AND deleted_at IS NULL" };
    Cond::new(sql, vec![portico_odata::Value::Text(tenant.to_string())])
}

impl Plan {
    /// The list query over `table` for this plan, within `scope` (the tenant condition).
    pub fn list(&self, table: &'static str, columns: &'static str, scope: Cond, opts: &QueryOptions) -> List {
        let mut conds = vec![scope];
        conds.extend(self.conds.iter().cloned());
        List {
            table,
            columns,
            conds,
            order: self.order.clone(),
            id_column: "id",
            top: self.top,
            skiptoken: opts.skiptoken.clone(),
            count: self.count,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for QueryOptions {
    type Rejection = GraphError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let eventual = parts
            .headers
            .get("consistencylevel")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("eventual"));
        // Inside a nested router the URI lost its /v1.0 prefix; links need the original.
        let uri = parts.extensions.get::<axum::extract::OriginalUri>().map_or(&parts.uri, |o| &o.0);
        QueryOptions::parse(uri.path(), uri.query().unwrap_or(""), eventual)
    }
}

impl QueryOptions {
    /// Parses a query string.
    pub fn parse(path: &str, query: &str, eventual: bool) -> Result<Self, GraphError> {
        let mut o = QueryOptions { eventual, path: path.to_string(), ..Default::default() };
        let mut seen: Vec<String> = vec![];
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            let (k, v) = (k.into_owned(), v.into_owned());
            o.pairs.push((k.clone(), v.clone()));
            let name = k.strip_prefix('$').unwrap_or(&k).to_ascii_lowercase();
            let known =
                ["filter", "search", "orderby", "select", "top", "count", "skiptoken", "skip", "expand", "format"];
            if !known.contains(&name.as_str()) {
                if k.starts_with('$') {
                    return Err(GraphError::bad_request(format!("Unrecognized query argument specified: '{k}'.")));
                }
                continue;
            }
            if seen.contains(&name) {
                return Err(GraphError::bad_request(format!(
                    "Query option '${name}' was specified more than once, but it must be specified at most once."
                )));
            }
            seen.push(name.clone());
            match name.as_str() {
                "filter" => o.filter = Some(v),
                "search" => o.search = Some(v),
                "orderby" => o.orderby = Some(v),
                "select" => o.select = Some(v),
                "skiptoken" => o.skiptoken = Some(v),
                "top" => {
                    let n: usize = v.trim().parse().map_err(|_| invalid_top(&v))?;
                    if !(1..=MAX_TOP).contains(&n) {
                        return Err(invalid_top(&v));
                    }
                    o.top = Some(n);
                }
                "count" => {
                    o.count = match v.as_str() {
                        "true" => true,
                        "false" => false,
                        _ => {
                            return Err(GraphError::bad_request(format!(
                                "Invalid value '{v}' for $count; use true or false."
                            )));
                        }
                    }
                }
                "skip" => return Err(GraphError::bad_request("'$skip' is not supported by the service.")),
                "expand" => {
                    return Err(GraphError::unsupported("$expand is not supported on this resource by Portico yet."));
                }
                _ => return Err(GraphError::bad_request(format!("The query option '${name}' is not supported."))),
            }
        }
        Ok(o)
    }

    /// Whether the request may use advanced query capabilities.
    pub fn advanced_allowed(&self) -> bool {
        self.eventual && self.count
    }

    /// Validates the options against an entity and compiles `$filter` and `$search`.
    pub fn plan(&self, schema: &EntitySchema, dialect: Dialect) -> Result<Plan, GraphError> {
        let mut conds = vec![];
        if let Some(f) = self.filter.as_deref().filter(|f| !f.trim().is_empty()) {
            let c = portico_odata::filter(f, schema, dialect, 1)?;
            if c.advanced && !self.advanced_allowed() {
                return Err(GraphError::unsupported(
                    "Operators 'ne', 'not' and 'endsWith' need the 'ConsistencyLevel: eventual' header and $count=true. \
                     Refer to https://aka.ms/graph-docs/advanced-queries for more information.",
                ));
            }
            conds.push(c.into());
        }
        if let Some(s) = self.search.as_deref().filter(|s| !s.trim().is_empty()) {
            if !self.eventual {
                return Err(GraphError::unsupported(
                    "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'",
                ));
            }
            conds.push(portico_odata::search(s, schema, dialect, 1)?.into());
        }
        let mut order = vec![];
        if let Some(ob) = self.orderby.as_deref() {
            let items = portico_odata::parse_orderby(ob, schema)?;
            if !items.is_empty() && self.filter.is_some() && !self.advanced_allowed() {
                return Err(GraphError::unsupported(
                    "Sorting together with $filter needs the 'ConsistencyLevel: eventual' header and $count=true.",
                ));
            }
            for i in items {
                order.push((portico_odata::order_column(i.field), i.descending));
            }
        }
        let select = match self.select.as_deref() {
            Some(s) => portico_odata::parse_select(s, schema)?,
            None => vec![],
        };
        Ok(Plan { conds, order, top: self.top.unwrap_or(DEFAULT_TOP), count: self.count && self.eventual, select })
    }

    /// Answers `/$count` of a collection: only with `ConsistencyLevel: eventual`, as Graph.
    pub async fn count_only(
        &self,
        store: &portico_store::Store,
        schema: &EntitySchema,
        table: &'static str,
        scope: Cond,
    ) -> Result<i64, GraphError> {
        if !self.eventual {
            return Err(GraphError::bad_request("$count is not currently supported."));
        }
        let plan = QueryOptions { count: true, ..self.clone() }.plan(schema, store.dialect())?;
        let list =
            List { top: 1, skiptoken: None, columns: "id", order: vec![], ..plan.list(table, "id", scope, self) };
        Ok(list.run(store, |_| Ok(())).await?.count.unwrap_or(0))
    }

    /// `$select` for a single-entity read.
    pub fn select_for(&self, schema: &EntitySchema) -> Result<Vec<&'static str>, GraphError> {
        if self.filter.is_some() || self.orderby.is_some() || self.search.is_some() || self.top.is_some() {
            return Err(GraphError::bad_request("Only $select is supported when reading a single object."));
        }
        match self.select.as_deref() {
            Some(s) => Ok(portico_odata::parse_select(s, schema)?),
            None => Ok(vec![]),
        }
    }

    /// The absolute `@odata.nextLink` for a skiptoken.
    pub fn next_link(&self, public_url: &str, token: &str) -> String {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.pairs {
            if !k.trim_start_matches('$').eq_ignore_ascii_case("skiptoken") {
                ser.append_pair(k, v);
            }
        }
        ser.append_pair("$skiptoken", token);
        format!("{public_url}{}?{}", self.path, ser.finish())
    }

    /// The API version in the path (`v1.0` or `beta`).
    pub fn version(&self) -> &'static str {
        if self.path.starts_with("/beta") { "beta" } else { "v1.0" }
    }
}

fn invalid_top(v: &str) -> GraphError {
    GraphError::bad_request(format!("Invalid page size specified: '{v}'. Must be between 1 and {MAX_TOP} inclusive."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_parsed_with_and_without_dollar() {
        let o = QueryOptions::parse("/v1.0/users", "$top=5&filter=userType%20eq%20'Guest'&$count=true&custom=1", true)
            .unwrap();
        assert_eq!(o.top, Some(5));
        assert_eq!(o.filter.as_deref(), Some("userType eq 'Guest'"));
        assert!(o.advanced_allowed());
        assert!(QueryOptions::parse("/", "$top=0", false).is_err());
        assert!(QueryOptions::parse("/", "$top=1000", false).is_err());
        assert!(QueryOptions::parse("/", "$top=abc", false).is_err());
        assert!(QueryOptions::parse("/", "$bogus=1", false).is_err());
        assert!(QueryOptions::parse("/", "$top=1&$top=2", false).is_err());
        assert!(QueryOptions::parse("/", "$skip=10", false).is_err());
    }

    #[test]
    fn next_link_replaces_the_skiptoken_and_keeps_the_rest() {
        let o = QueryOptions::parse("/v1.0/users", "$top=2&$skiptoken=old&$filter=a%20eq%20'b'", false).unwrap();
        let link = o.next_link("http://h:1", "NEW");
        assert!(link.starts_with("http://h:1/v1.0/users?"));
        assert!(link.contains("%24skiptoken=NEW"));
        assert!(!link.contains("old"));
        assert!(link.contains("%24top=2"));
    }
}
