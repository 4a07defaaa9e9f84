//! Password policy: which new passwords are accepted, per OWASP ASVS 5.0 §6.2.
//!
//! The rules are length bounds, a list of the most common passwords, and a check against the user's
//! own names. There are deliberately no composition rules (ASVS 5.0 §6.2.5): they push people
//! towards predictable patterns without adding strength.

use std::collections::HashSet;
use std::fmt;
use std::sync::OnceLock;

/// The shortest password accepted, in Unicode scalar values (ASVS 5.0 §6.2.1).
pub const MIN_LEN: usize = 8;
/// The length that pages recommend, in Unicode scalar values (ASVS 5.0 §6.2.1).
pub const RECOMMENDED_LEN: usize = 15;
/// The longest password accepted, in Unicode scalar values. ASVS 5.0 §6.2.9 requires at least 64;
/// the cap only bounds the work of hashing an attacker-supplied value.
pub const MAX_LEN: usize = 256;

/// Only hints at least this long are checked, so that a short name such as "Al" cannot refuse
/// every password that happens to equal it.
const MIN_HINT_LEN: usize = 4;

/// The most common passwords, one per line, lowercase, most common first (see `data/README.md`).
const COMMON_PASSWORDS: &str = include_str!("../data/common-passwords.txt");

/// Why a password was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordProblem {
    /// Shorter than [`MIN_LEN`].
    TooShort,
    /// Longer than [`MAX_LEN`].
    TooLong,
    /// In the list of the most common passwords.
    Common,
    /// Equal to the user's own name.
    ContainsName,
}

impl PasswordProblem {
    /// A stable machine-readable code for API responses and page templates.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooShort => "password_too_short",
            Self::TooLong => "password_too_long",
            Self::Common => "password_common",
            Self::ContainsName => "password_contains_user_name",
        }
    }

    /// An English sentence for the user, naming the limit that was not met.
    pub fn message(&self) -> String {
        match self {
            Self::TooShort => {
                format!("The password must be at least {MIN_LEN} characters long; {RECOMMENDED_LEN} or more is better.")
            }
            Self::TooLong => format!("The password must be at most {MAX_LEN} characters long."),
            Self::Common => "The password is one of the most commonly used passwords; choose another.".to_string(),
            Self::ContainsName => "The password must not be your user name or display name.".to_string(),
        }
    }
}

impl fmt::Display for PasswordProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for PasswordProblem {}

fn common_set() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| COMMON_PASSWORDS.lines().map(str::trim).filter(|l| !l.is_empty()).collect())
}

/// Whether the password is in the list of the most common passwords, ignoring case and
/// surrounding whitespace.
pub fn is_common(password: &str) -> bool {
    common_set().contains(password.trim().to_lowercase().as_str())
}

/// Checks a new password against the policy.
///
/// `user_hints` are the user's own names (the UPN's local part, the display name); the password is
/// refused if it equals one of them that is at least four characters long, ignoring case.
pub fn check_password(password: &str, user_hints: &[&str]) -> Result<(), PasswordProblem> {
    // ASVS 5.0 §6.2.1 and §6.2.9: lengths count characters, not bytes. §6.2.8: the password is
    // never truncated or case-folded; the folding below only serves the list and name checks.
    let len = password.chars().count();
    if len < MIN_LEN {
        return Err(PasswordProblem::TooShort);
    }
    if len > MAX_LEN {
        return Err(PasswordProblem::TooLong);
    }
    // ASVS 5.0 §6.2.4: refuse the most common passwords.
    if is_common(password) {
        return Err(PasswordProblem::Common);
    }
    // ASVS 5.0 §6.2.11: refuse context-specific words such as the user's own name.
    let folded = password.trim().to_lowercase();
    let equals_hint = user_hints
        .iter()
        .map(|h| h.trim())
        .filter(|h| h.chars().count() >= MIN_HINT_LEN)
        .any(|h| h.to_lowercase() == folded);
    if equals_hint {
        return Err(PasswordProblem::ContainsName);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::random_token;

    #[test]
    fn shipped_list_has_three_thousand_lowercase_entries() {
        let entries: Vec<&str> = COMMON_PASSWORDS.lines().collect();
        assert_eq!(entries.len(), 3000);
        assert!(entries.iter().all(|e| !e.is_empty() && *e == e.to_lowercase() && e.trim() == *e));
        assert_eq!(entries[0], "123456");
        assert_eq!(common_set().len(), 3000);
    }

    #[test]
    fn common_passwords_are_refused_whatever_their_case() {
        for p in ["password", "Password1", "qwerty123", "PASSW0RD", "  iloveyou  ", "trustno1", "12345678"] {
            assert!(is_common(p), "{p}");
            assert_eq!(check_password(p, &[]), Err(PasswordProblem::Common), "{p}");
        }
    }

    #[test]
    fn long_random_passwords_are_accepted() {
        // 48 and 150 random bytes encode to 64 and 200 base64url characters.
        let p64 = random_token(48);
        let p200 = random_token(150);
        assert_eq!(p64.chars().count(), 64);
        assert_eq!(p200.chars().count(), 200);
        assert_eq!(check_password(&p64, &["alice"]), Ok(()));
        assert_eq!(check_password(&p200, &["alice"]), Ok(()));
        assert!(!is_common(&p64));
    }

    #[test]
    fn seven_characters_are_too_short() {
        assert_eq!(check_password("xK9#mQ2", &[]), Err(PasswordProblem::TooShort));
        assert_eq!(check_password("xK9#mQ2v", &[]), Ok(()));
    }

    #[test]
    fn more_than_the_maximum_is_too_long() {
        assert_eq!(check_password(&"x7".repeat(128), &[]), Ok(()));
        assert_eq!(check_password(&format!("{}y", "x7".repeat(128)), &[]), Err(PasswordProblem::TooLong));
    }

    #[test]
    fn multi_byte_characters_count_as_one_each() {
        // Eight characters but sixteen bytes: long enough.
        assert_eq!(check_password("üöäßéèçñ", &[]), Ok(()));
        // Seven characters but more than eight bytes: too short.
        assert_eq!(check_password("üöäßéèç", &[]), Err(PasswordProblem::TooShort));
        // 256 three-byte characters are within the limit; 257 are not.
        assert_eq!(check_password(&"€".repeat(MAX_LEN), &[]), Ok(()));
        assert_eq!(check_password(&"€".repeat(MAX_LEN + 1), &[]), Err(PasswordProblem::TooLong));
    }

    #[test]
    fn a_password_equal_to_a_user_hint_is_refused() {
        let hints = ["bob.smithers", "Bob Smithers"];
        assert_eq!(check_password("BOB.SMITHERS", &hints), Err(PasswordProblem::ContainsName));
        assert_eq!(check_password("bob smithers", &hints), Err(PasswordProblem::ContainsName));
        assert_eq!(check_password("bob smithers rides a bike", &hints), Ok(()));
    }

    #[test]
    fn hints_shorter_than_four_characters_are_ignored() {
        assert_eq!(check_password("zq7", &["zq7"]), Err(PasswordProblem::TooShort));
        assert_eq!(check_password("   zq7   ", &["zq7"]), Ok(()));
        assert_eq!(check_password("zq7wzq7w", &["zq7wzq7w", ""]), Err(PasswordProblem::ContainsName));
    }

    #[test]
    fn problems_have_stable_codes_and_name_their_limit() {
        assert_eq!(PasswordProblem::TooShort.code(), "password_too_short");
        assert_eq!(PasswordProblem::TooLong.code(), "password_too_long");
        assert_eq!(PasswordProblem::Common.code(), "password_common");
        assert_eq!(PasswordProblem::ContainsName.code(), "password_contains_user_name");
        assert!(PasswordProblem::TooShort.message().contains("8"));
        assert!(PasswordProblem::TooLong.message().contains("256"));
    }
}
