//! Slugs: the short, URL-safe names partners are addressed by
//! (`/partners/acme-cloud`).

pub const MAX_SLUG_LEN: usize = 64;

/// Suggests a slug from a display name: ASCII letters and digits, other
/// runs become one dash. May be empty (e.g. a name in another script).
pub fn slugify(name: &str) -> String {
    let mut out = String::new();
    let mut dash = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.push(c.to_ascii_lowercase());
        } else {
            dash = true;
        }
        if out.len() >= MAX_SLUG_LEN {
            break;
        }
    }
    out.truncate(MAX_SLUG_LEN);
    out.trim_end_matches('-').to_string()
}

/// Checks a slug someone typed; the message says what to change.
pub fn validate_slug(slug: &str) -> Result<(), String> {
    if slug.is_empty() {
        return Err("enter a slug (lowercase letters, digits and dashes)".into());
    }
    if slug.len() > MAX_SLUG_LEN {
        return Err(format!("at most {MAX_SLUG_LEN} characters"));
    }
    if let Some(c) = slug.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')) {
        return Err(format!("\"{c}\" is not allowed: use lowercase letters, digits and dashes"));
    }
    if slug.starts_with('-') || slug.ends_with('-') {
        return Err("must not start or end with a dash".into());
    }
    if slug.contains("--") {
        return Err("must not contain two dashes in a row".into());
    }
    if slug == "new" {
        return Err("\"new\" is reserved; choose another slug".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugify_cases() {
        let cases = [
            ("Acme Cloud", "acme-cloud"),
            ("  Acme   Cloud, Inc. ", "acme-cloud-inc"),
            ("F5 Networks", "f5-networks"),
            ("Snyk", "snyk"),
            ("Münchner Wolke", "m-nchner-wolke"),
            ("Испытание", ""),
            ("a--b", "a-b"),
            ("--lead", "lead"),
            ("HashiCorp/Terraform", "hashicorp-terraform"),
            ("", ""),
        ];
        for (name, slug) in cases {
            assert_eq!(slugify(name), slug, "{name:?}");
            if !slug.is_empty() {
                assert_eq!(validate_slug(slug), Ok(()), "{slug:?}");
            }
        }
        let long = "x".repeat(100);
        assert_eq!(slugify(&long).len(), MAX_SLUG_LEN);
    }

    #[test]
    fn validate_slug_cases() {
        let bad = [
            ("", "enter a slug"),
            ("Acme", "\"A\" is not allowed"),
            ("acme cloud", "\" \" is not allowed"),
            ("acme_cloud", "\"_\" is not allowed"),
            ("-acme", "start or end"),
            ("acme-", "start or end"),
            ("ac--me", "two dashes"),
            ("new", "reserved"),
        ];
        for (slug, fragment) in bad {
            let e = validate_slug(slug).expect_err(slug);
            assert!(e.contains(fragment), "{slug:?}: {e:?}");
        }
        assert!(validate_slug(&"a".repeat(65)).is_err());
        assert!(validate_slug(&"a".repeat(64)).is_ok());
    }
}
