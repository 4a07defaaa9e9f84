//! End-to-end tests of the public API against a Graph-like `User` schema: exact SQL and bind
//! parameters for every operator, error kinds and messages, limits, and a no-panic fuzz loop.

use portico_odata::*;

const fn text(column: &'static str, ci_column: &'static str) -> FieldKind {
    FieldKind::Text { column, ci_column }
}

const IDENTITY_PROPS: &[(&str, &str)] =
    &[("signInType", "sign_in_type_ci"), ("issuer", "issuer_ci"), ("issuerAssignedId", "issuer_assigned_id_ci")];

const USER_FIELDS: &[Field] = &[
    Field::new("id", FieldKind::Guid { column: "id" }, Ops::EQUALITY).hidden(),
    Field::new("displayName", text("display_name", "display_name_ci"), Ops::STRING_DEFAULT).searchable(),
    Field::new("mail", text("mail", "mail_ci"), Ops::STRING_DEFAULT).searchable(),
    Field::new("jobTitle", text("job_title", "job_title_ci"), Ops::EQ_IN),
    // Deliberately over-permissive ops: Enum must still refuse startsWith and ranges.
    Field::new("userType", FieldKind::Enum { column: "user_type", values: &["Member", "Guest"] }, Ops::STRING_DEFAULT),
    Field::new("accountEnabled", FieldKind::Bool { column: "account_enabled" }, Ops::EQUALITY),
    Field::new("createdDateTime", FieldKind::DateTime { column: "created_at" }, Ops::RANGE_DEFAULT),
    Field::new("signInCount", FieldKind::Int { column: "sign_in_count" }, Ops::RANGE_DEFAULT).searchable(),
    Field::new("passwordPolicies", text("password_policies", "password_policies_ci"), Ops::NONE).hidden(),
    Field::new(
        "otherMails",
        FieldKind::TextCollection { table: "user_other_mails", owner_column: "user_id", value_ci_column: "value_ci" },
        Ops::COLLECTION,
    )
    .searchable(),
    Field::new(
        "proxyAddresses",
        FieldKind::TextCollection {
            table: "user_proxy_addresses",
            owner_column: "user_id",
            value_ci_column: "value_ci",
        },
        Ops::NONE.with_order(),
    ),
    Field::new(
        "identities",
        FieldKind::ComplexCollection { table: "user_identities", owner_column: "user_id", props: IDENTITY_PROPS },
        Ops::COLLECTION,
    ),
];

const USER: EntitySchema = EntitySchema { entity: "User", table: "users", id_column: "id", fields: USER_FIELDS };

const GUID: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";

fn ok(q: &str) -> Compiled {
    filter(q, &USER, Dialect::Postgres, 1).unwrap_or_else(|e| panic!("{q}: {e}"))
}

fn err(q: &str) -> ODataError {
    match filter(q, &USER, Dialect::Sqlite, 1) {
        Ok(c) => panic!("{q} unexpectedly compiled to {}", c.sql),
        Err(e) => e,
    }
}

fn t(s: &str) -> Value {
    Value::Text(s.to_string())
}

/// Asserts SQL, params and the advanced flag of a compiled filter.
fn check(q: &str, sql: &str, params: &[Value], advanced: bool) {
    let c = ok(q);
    assert_eq!((c.sql.as_str(), c.params.as_slice(), c.advanced), (sql, params, advanced), "{q}");
}

fn kind_of(q: &str) -> ODataErrorKind {
    err(q).kind
}

#[test]
fn text_operators() {
    check("displayName eq 'Alice'", "display_name_ci = $1", &[t("alice")], false);
    check("DISPLAYNAME EQ 'Alice'", "display_name_ci = $1", &[t("alice")], false);
    check("displayName ne 'Bob'", "(display_name_ci <> $1 OR display_name_ci IS NULL)", &[t("bob")], true);
    check("displayName in ('A', 'b','ÄÖ')", "display_name_ci IN ($1, $2, $3)", &[t("a"), t("b"), t("äö")], false);
    check("displayName eq 'O''Brien'", "display_name_ci = $1", &[t("o'brien")], false);
    check("'x' eq mail", "mail_ci = $1", &[t("x")], false);
    let range = "(display_name_ci >= $1 AND display_name_ci < $2)";
    check("startsWith(displayName,'Al')", range, &[t("al"), t("al\u{10FFFF}")], false);
    check("STARTSWITH(displayName, '')", "display_name_ci IS NOT NULL", &[], false);
    check("endswith(mail,'A_%\\')", "mail_ci LIKE $1 ESCAPE '\\'", &[t("%a\\_\\%\\\\")], true);
    check("displayName eq null", "display_name IS NULL", &[], false);
    check("displayName ne null", "display_name IS NOT NULL", &[], true);
}

#[test]
fn injection_attempts_are_bound_not_spliced() {
    let c = ok("displayName eq 'x'') OR 1=1 --'");
    assert_eq!(c.sql, "display_name_ci = $1");
    assert_eq!(c.params, vec![t("x') or 1=1 --")]);
}

#[test]
fn first_param_offset() {
    let c = filter("displayName eq 'a' and startsWith(mail,'b')", &USER, Dialect::Sqlite, 5).unwrap();
    assert_eq!(c.sql, "(display_name_ci = $5) AND ((mail_ci >= $6 AND mail_ci < $7))");
    assert_eq!(c.params.len(), 3);
    let c = filter("displayName eq 'a'", &USER, Dialect::Sqlite, 0).unwrap();
    assert_eq!(c.sql, "display_name_ci = $1");
}

#[test]
fn precedence_and_not() {
    check(
        "displayName eq 'a' or mail eq 'b' and accountEnabled eq true",
        "(display_name_ci = $1) OR ((mail_ci = $2) AND (account_enabled = $3))",
        &[t("a"), t("b"), Value::Bool(true)],
        false,
    );
    check(
        "(displayName eq 'a' or mail eq 'b') and accountEnabled eq false",
        "((display_name_ci = $1) OR (mail_ci = $2)) AND (account_enabled = $3)",
        &[t("a"), t("b"), Value::Bool(false)],
        false,
    );
    check("not(userType eq 'guest')", "NOT (COALESCE((user_type = $1), FALSE))", &[t("Guest")], true);
    check(
        "not startsWith(displayName,'a') and not not mail eq 'm'",
        "(NOT (COALESCE(((display_name_ci >= $1 AND display_name_ci < $2)), FALSE))) AND \
         (NOT (COALESCE((NOT (COALESCE((mail_ci = $3), FALSE))), FALSE)))",
        &[t("a"), t("a\u{10FFFF}"), t("m")],
        true,
    );
}

#[test]
fn enum_bool_int_guid() {
    check("userType eq 'GUEST'", "user_type = $1", &[t("Guest")], false);
    check("userType in ('member','Partner')", "user_type IN ($1, $2)", &[t("Member"), t("Partner")], false);
    check("userType ne 'member'", "(user_type <> $1 OR user_type IS NULL)", &[t("Member")], true);
    assert_eq!(kind_of("startsWith(userType,'G')"), ODataErrorKind::Unsupported);
    assert_eq!(kind_of("userType gt 'A'"), ODataErrorKind::Unsupported);
    check("accountEnabled eq true", "account_enabled = $1", &[Value::Bool(true)], false);
    let e = err("accountEnabled eq 'true'");
    assert_eq!(e.kind, ODataErrorKind::BadRequest);
    assert_eq!(
        e.message,
        "A value of type Edm.String cannot be compared with property 'accountEnabled' of type Edm.Boolean."
    );
    assert_eq!(kind_of("accountEnabled gt true"), ODataErrorKind::Unsupported);
    check("signInCount gt 5", "sign_in_count > $1", &[Value::Int(5)], false);
    check("5 lt signInCount", "sign_in_count > $1", &[Value::Int(5)], false);
    check("-5 ge signInCount", "sign_in_count <= $1", &[Value::Int(-5)], false);
    assert_eq!(kind_of("signInCount eq '5'"), ODataErrorKind::BadRequest);
    let upper = GUID.to_ascii_uppercase();
    check(&format!("id eq {upper}"), "id = $1", &[t(GUID)], false);
    check(&format!("id eq '{upper}'"), "id = $1", &[t(GUID)], false);
    check(&format!("id ne {GUID}"), "(id <> $1 OR id IS NULL)", &[t(GUID)], true);
    check(&format!("id in ({GUID}, '{upper}')"), "id IN ($1, $2)", &[t(GUID), t(GUID)], false);
    let e = err("id eq 'not-a-guid'");
    assert_eq!(
        (e.kind, e.message.as_str()),
        (ODataErrorKind::BadRequest, "'not-a-guid' is not a valid Edm.Guid value for property 'id'.")
    );
    assert_eq!(kind_of("id gt 0f8fad5b-d9cb-469f-a165-70867728950e"), ODataErrorKind::Unsupported);
    assert_eq!(kind_of("displayName eq 0f8fad5b-d9cb-469f-a165-70867728950e"), ODataErrorKind::BadRequest);
}

#[test]
fn datetime_literals_and_ranges() {
    let ms = 1_704_157_445_123;
    for (op, sql) in [("eq", "="), ("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")] {
        let q = format!("createdDateTime {op} 2024-01-02T03:04:05.123+02:00");
        check(&q, &format!("created_at {sql} $1"), &[Value::Int(ms)], false);
    }
    check(
        "createdDateTime ne 2024-01-02T03:04:05Z",
        "(created_at <> $1 OR created_at IS NULL)",
        &[Value::Int(1_704_164_645_000)],
        true,
    );
    check("createdDateTime lt 2024-01-02", "created_at < $1", &[Value::Int(1_704_153_600_000)], false);
    check(
        "createdDateTime ge '2024-01-02T00:00:00-00:30'",
        "created_at >= $1",
        &[Value::Int(1_704_155_400_000)],
        false,
    );
    assert_eq!(kind_of("createdDateTime ge 2024-13-01T00:00:00Z"), ODataErrorKind::BadRequest);
    assert_eq!(kind_of("createdDateTime ge 'yesterday'"), ODataErrorKind::BadRequest);
    assert_eq!(kind_of("createdDateTime eq 5"), ODataErrorKind::BadRequest);
    assert_eq!(kind_of("createdDateTime gt null"), ODataErrorKind::BadRequest);
}

#[test]
fn lambdas() {
    check(
        "otherMails/any(x:x eq 'A@B.c')",
        "EXISTS (SELECT 1 FROM user_other_mails c1 WHERE c1.user_id = users.id AND (c1.value_ci = $1))",
        &[t("a@b.c")],
        false,
    );
    check(
        "otherMails/any(x:startsWith(x,'Al'))",
        "EXISTS (SELECT 1 FROM user_other_mails c1 WHERE c1.user_id = users.id AND ((c1.value_ci >= $1 AND c1.value_ci < $2)))",
        &[t("al"), t("al\u{10FFFF}")],
        false,
    );
    check(
        "identities/any(c:c/issuer eq 'Contoso.com' and c/issuerAssignedId eq 'Bob')",
        "EXISTS (SELECT 1 FROM user_identities c1 WHERE c1.user_id = users.id AND \
         ((c1.issuer_ci = $1) AND (c1.issuer_assigned_id_ci = $2)))",
        &[t("contoso.com"), t("bob")],
        false,
    );
    check(
        "identities/any(i:i/SignInType eq 'federated') or otherMails/any()",
        "(EXISTS (SELECT 1 FROM user_identities c1 WHERE c1.user_id = users.id AND (c1.sign_in_type_ci = $1))) OR \
         (EXISTS (SELECT 1 FROM user_other_mails c2 WHERE c2.user_id = users.id))",
        &[t("federated")],
        false,
    );
    use ODataErrorKind::{BadRequest, Unsupported};
    for (q, kind) in [
        ("otherMails/all(x:x eq 'a')", Unsupported),
        ("otherMails/any(x:displayName eq 'a')", Unsupported),
        ("otherMails/any(x:not(x eq 'a'))", Unsupported),
        ("otherMails/any(x:otherMails/any(y:y eq 'a'))", Unsupported),
        ("otherMails/any(x:endsWith(x,'a'))", Unsupported),
        ("proxyAddresses/any(x:x eq 'a')", Unsupported),
        ("otherMails eq 'a'", Unsupported),
        ("identities/any(c:c/foo eq 'a')", BadRequest),
        ("displayName/any(x:x eq 'a')", BadRequest),
        ("nope/any(x:x eq 'a')", BadRequest),
    ] {
        assert_eq!(kind_of(q), kind, "{q}");
    }
}

#[test]
fn unknown_and_unsupported_properties() {
    let e = err("foo eq 'a'");
    assert_eq!(e.kind, ODataErrorKind::BadRequest);
    assert_eq!(e.message, "Could not find a property named 'foo' on type 'microsoft.graph.user'.");
    let e = err("startsWith(jobTitle,'a')");
    assert_eq!(e.kind, ODataErrorKind::Unsupported);
    assert_eq!(
        e.message,
        "Unsupported or invalid query filter clause specified for property 'jobTitle' of resource 'User'."
    );
    use ODataErrorKind::{BadRequest, Unsupported};
    for (q, kind) in [
        ("jobTitle ne 'a'", Unsupported),
        ("jobTitle eq null", Unsupported),
        ("passwordPolicies eq 'x'", Unsupported),
        ("contains(displayName,'a')", Unsupported),
        ("tolower(displayName) eq 'a'", Unsupported),
        ("frobnicate(displayName,'a')", BadRequest),
        ("displayName eq mail", BadRequest),
        ("'a' eq 'b'", BadRequest),
        ("startsWith(displayName,5)", BadRequest),
        ("startsWith('a',displayName)", BadRequest),
        ("startsWith(displayName)", BadRequest),
        ("displayName in ('a', null)", BadRequest),
        ("displayName eq true", BadRequest),
        ("startsWith(displayName,'a') eq true", BadRequest),
    ] {
        assert_eq!(kind_of(q), kind, "{q}");
    }
}

#[test]
fn syntax_errors_name_positions() {
    for (q, msg) in [
        ("displayName eq 'a')", "Syntax error: character ')' is not valid at position 18 in 'displayName eq 'a')'."),
        ("displayName eq", "Syntax error: unexpected end of input at position 14 in 'displayName eq'."),
        ("displayName 'a'", "Syntax error: character ''' is not valid at position 12 in 'displayName 'a''."),
        ("displayName in ()", "Syntax error: character ')' is not valid at position 16 in 'displayName in ()'."),
        ("(displayName eq 'a'", "Syntax error: unexpected end of input at position 19 in '(displayName eq 'a''."),
        ("displayName eq 'a' and", "Syntax error: unexpected end of input at position 22 in 'displayName eq 'a' and'."),
        ("displayName eq 'a", "Syntax error: unterminated string literal at position 15 in 'displayName eq 'a'."),
        ("displayName eq 1.5", "Syntax error: character '.' is not valid at position 16 in 'displayName eq 1.5'."),
        ("  ", "The $filter query option is empty."),
    ] {
        let e = err(q);
        assert_eq!((e.kind, e.message.as_str()), (ODataErrorKind::BadRequest, msg), "{q}");
    }
}

#[test]
fn limits() {
    let long = format!("displayName eq '{}'", "x".repeat(4096));
    let e = err(&long);
    assert!(e.message.contains("4096"), "{}", e.message);
    let fits = format!("displayName eq '{}'", "é".repeat(4000));
    assert_eq!(ok(&fits).params, vec![t(&"é".repeat(4000))]);
    let nested = |n: usize| format!("{}displayName eq 'a'{}", "(".repeat(n), ")".repeat(n));
    assert_eq!(ok(&nested(32)).sql, "display_name_ci = $1");
    assert!(err(&nested(33)).message.contains("nested more than 32"));
    assert!(err(&format!("{}displayName eq 'a'", "not ".repeat(40))).message.contains("nested"));
    assert_eq!(kind_of(&"(".repeat(4000)), ODataErrorKind::BadRequest);
    // A comparison is 3 nodes, each `or` one more: 25 comparisons = 99 nodes, 26 = 103.
    let chain = |n: usize| vec!["displayName eq 'a'"; n].join(" or ");
    assert_eq!(ok(&chain(25)).params.len(), 25);
    assert!(err(&chain(26)).message.contains("more than 100 nodes"));
}

#[test]
fn orderby() {
    let items = parse_orderby("displayName desc, createdDateTime,SIGNINCOUNT Asc", &USER).unwrap();
    let got: Vec<(&str, bool, &str)> =
        items.iter().map(|i| (i.field.name, i.descending, order_column(i.field))).collect();
    assert_eq!(
        got,
        [
            ("displayName", true, "display_name_ci"),
            ("createdDateTime", false, "created_at"),
            ("signInCount", false, "sign_in_count")
        ]
    );
    assert!(parse_orderby(" ", &USER).unwrap().is_empty());
    let e = parse_orderby("foo", &USER).err().unwrap();
    assert_eq!(
        (e.kind, e.message.as_str()),
        (ODataErrorKind::BadRequest, "Could not find a property named 'foo' on type 'microsoft.graph.user'.")
    );
    for (q, kind) in [
        ("jobTitle", ODataErrorKind::Unsupported),
        ("proxyAddresses", ODataErrorKind::Unsupported),
        ("displayName up", ODataErrorKind::BadRequest),
        ("displayName desc x", ODataErrorKind::BadRequest),
        ("displayName,,mail", ODataErrorKind::BadRequest),
        ("displayName,DISPLAYNAME desc", ODataErrorKind::BadRequest),
    ] {
        assert_eq!(parse_orderby(q, &USER).err().map(|e| e.kind), Some(kind), "{q}");
    }
    assert_eq!(order_column(&USER_FIELDS[0]), "id");
    assert_eq!(order_column(&USER_FIELDS[4]), "user_type");
}

#[test]
fn select() {
    assert_eq!(parse_select("displayName, ID,mail,displayname", &USER).unwrap(), ["displayName", "id", "mail"]);
    assert!(parse_select("", &USER).unwrap().is_empty());
    let e = parse_select("displayName,x", &USER).unwrap_err();
    assert_eq!(
        (e.kind, e.message.as_str()),
        (ODataErrorKind::BadRequest, "Could not find a property named 'x' on type 'microsoft.graph.user'.")
    );
    assert_eq!(parse_select("passwordPolicies", &USER).unwrap_err().kind, ODataErrorKind::Unsupported);
    assert_eq!(parse_select("mail,,id", &USER).unwrap_err().kind, ODataErrorKind::BadRequest);
}

fn like6(col: &str, first: usize) -> String {
    let likes: Vec<String> = (first..first + 6).map(|n| format!("{col} LIKE ${n} ESCAPE '\\'")).collect();
    format!("({})", likes.join(" OR "))
}

fn pats(e: &str) -> Vec<Value> {
    [format!("{e}%"), format!("% {e}%"), format!("%.{e}%"), format!("%@{e}%"), format!("%-{e}%"), format!("%\\_{e}%")]
        .into_iter()
        .map(Value::Text)
        .collect()
}

#[test]
fn search_compiles() {
    let s = |q: &str| search(q, &USER, Dialect::Sqlite, 1).unwrap_or_else(|e| panic!("{q}: {e}"));
    let c = s("\"displayName:Room\"");
    assert_eq!((c.sql, c.params, c.advanced), (like6("display_name_ci", 1), pats("room"), true));
    let c = s("\"displayName:al\" OR \"mail:AL\"");
    assert_eq!(c.sql, format!("({}) OR ({})", like6("display_name_ci", 1), like6("mail_ci", 7)));
    assert_eq!(c.params, [pats("al"), pats("al")].concat());
    let c = s("\"displayName:a\" or \"mail:b\" AND \"displayName:c\"");
    let expected = format!(
        "({}) OR (({}) AND ({}))",
        like6("display_name_ci", 1),
        like6("mail_ci", 7),
        like6("display_name_ci", 13)
    );
    assert_eq!(c.sql, expected);
    let c = s("\"displayName:conf  Room\"");
    assert_eq!(c.sql, format!("{} AND {}", like6("display_name_ci", 1), like6("display_name_ci", 7)));
    assert_eq!(c.params, [pats("conf"), pats("room")].concat());
    let c = s("\"displayName:50%_off\\\\\"");
    assert_eq!(c.params[0], t("50\\%\\_off\\\\%"));
    let c = s("\"otherMails:bob\"");
    let inner = like6("c1.value_ci", 1);
    assert_eq!(c.sql, format!("EXISTS (SELECT 1 FROM user_other_mails c1 WHERE c1.user_id = users.id AND ({inner}))"));
}

#[test]
fn search_errors() {
    let e = |q: &str| search(q, &USER, Dialect::Sqlite, 1).unwrap_err();
    let missing = e("displayName:room");
    assert_eq!(missing.kind, ODataErrorKind::BadRequest);
    assert!(missing.message.starts_with("Syntax error: expected a double-quoted"), "{}", missing.message);
    for q in [
        "\"displayName:room",
        "\"displayName\"",
        "\"displayName:a\" \"mail:b\"",
        "\"displayName:a\" AND",
        "\"displayName: \"",
        "",
    ] {
        assert_eq!(e(q).kind, ODataErrorKind::BadRequest, "{q}");
    }
    assert_eq!(e("\"foo:a\"").message, "Could not find a property named 'foo' on type 'microsoft.graph.user'.");
    assert_eq!(e("\"jobTitle:a\"").kind, ODataErrorKind::Unsupported);
    assert_eq!(e("\"signInCount:1\"").kind, ODataErrorKind::Unsupported);
    assert!(e(&vec!["\"mail:a\""; 60].join(" OR ")).message.contains("too complex"));
}

/// Invariant for every successful compilation: no quote characters beyond the fixed
/// `ESCAPE '\'` clause (so no literal was spliced) and one param per placeholder.
fn assert_well_formed(c: &Compiled, first: usize) {
    assert!(!c.sql.replace("ESCAPE '\\'", "").contains('\''), "{}", c.sql);
    for n in first..first + c.params.len() {
        assert!(c.sql.contains(&format!("${n}")), "missing ${n} in {}", c.sql);
    }
    assert!(!c.sql.contains(&format!("${}", first + c.params.len())), "{}", c.sql);
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 16) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.next() % items.len()]
    }
}

/// A random, mostly well-formed filter built from a small grammar.
fn gen_filter(rng: &mut Rng, depth: usize) -> String {
    match rng.next() % if depth > 3 { 4 } else { 8 } {
        0 => format!(
            "{} {} {}",
            rng.pick(&["displayName", "mail", "jobTitle"]),
            rng.pick(&["eq", "ne", "gt"]),
            rng.pick(&["'A'", "'O''B'", "null", "1"])
        ),
        1 => format!(
            "{}({},'{}')",
            rng.pick(&["startsWith", "endsWith", "contains"]),
            rng.pick(&["mail", "userType"]),
            rng.pick(&["a", "", "%_"])
        ),
        2 => format!(
            "createdDateTime {} {}",
            rng.pick(&["ge", "lt", "eq"]),
            rng.pick(&["2024-01-02", "2024-01-02T03:04:05.9+01:00", "'x'"])
        ),
        3 => format!(
            "{} in ({})",
            rng.pick(&["userType", "id", "signInCount"]),
            rng.pick(&["'guest'", GUID, "1, 2", "'a', 'b'"])
        ),
        4 => format!("not ({})", gen_filter(rng, depth + 1)),
        5 => format!(
            "otherMails/any(x:x eq 'a' {} {})",
            rng.pick(&["and", "or"]),
            rng.pick(&["startsWith(x,'b')", "x eq 'c'", "y eq 'd'"])
        ),
        _ => format!("({}) {} {}", gen_filter(rng, depth + 1), rng.pick(&["and", "or"]), gen_filter(rng, depth + 1)),
    }
}

#[test]
fn fuzz_never_panics() {
    const JUNK: &[&str] = &[
        "(",
        ")",
        ",",
        "/",
        ":",
        "'",
        "''",
        "\"",
        " ",
        "-",
        "é",
        "\u{10FFFF}",
        "\0",
        "any(",
        "eq",
        "2024-01-0",
        "0f8fad5b-",
        "\"displayName:al\"",
        " OR ",
        "desc",
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut compiled = 0;
    for round in 0..20_000 {
        let mut q: Vec<char> = gen_filter(&mut rng, 0).chars().collect();
        // Most rounds mutate the generated filter: insert junk, delete or replace characters.
        for _ in 0..(round % 4) {
            let at = rng.next() % (q.len() + 1);
            match rng.next() % 3 {
                0 => q.splice(at..at, rng.pick(JUNK).chars()).for_each(drop),
                1 if at < q.len() => drop(q.remove(at)),
                _ => q.insert(at, char::from_u32((rng.next() % 0x300) as u32).unwrap_or('?')),
            }
        }
        let q: String = q.into_iter().collect();
        if let Ok(c) = filter(&q, &USER, Dialect::Sqlite, 3) {
            assert_well_formed(&c, 3);
            compiled += 1;
        }
        if let Ok(c) = search(&q, &USER, Dialect::Postgres, 2) {
            assert_well_formed(&c, 2);
        }
        let _ = parse_orderby(&q, &USER);
        let _ = parse_select(&q, &USER);
    }
    assert!(compiled > 1000, "fuzzer produced only {compiled} valid filters");
}
