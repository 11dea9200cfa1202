//! Provider source addresses (`[hostname/]namespace/type`), parsed and
//! normalised by the rules of `shared/spec/registry.md` §1, so that two ways of
//! writing the same provider compare equal and are stored once.

use std::fmt;
use unicode_normalization::UnicodeNormalization;

/// The public Terraform Registry, implied when an address has no hostname.
pub const PUBLIC_REGISTRY_HOST: &str = "registry.terraform.io";

/// Terraform itself sets no limit; we cap labels so a typo cannot fill a page.
pub const MAX_LABEL_CHARS: usize = 64;

/// A valid, normalised provider source address.
///
/// `host` is stored in ASCII (punycode) with an optional non-default port;
/// `namespace` and `type_name` are lowercase NFC.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SourceAddress {
    host: String,
    namespace: String,
    type_name: String,
}

/// Why a source address was refused; the message says what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SourceAddressError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, SourceAddressError> {
    Err(SourceAddressError(msg.into()))
}

impl SourceAddress {
    /// Parses what a user typed.
    pub fn parse(input: &str) -> Result<Self, SourceAddressError> {
        let input = input.trim();
        if input.is_empty() {
            return err("enter a source address, e.g. hashicorp/aws");
        }
        if input.contains("://") {
            return err("enter the address without a scheme: [hostname/]namespace/type, not a URL");
        }
        let parts: Vec<&str> = input.split('/').collect();
        let (host, namespace, type_raw) = match parts.as_slice() {
            [single] => return err(format!("\"{single}\" has no namespace: add it, e.g. hashicorp/{}", single.to_lowercase())),
            [ns, ty] => (PUBLIC_REGISTRY_HOST.to_string(), *ns, *ty),
            [host, ns, ty] => (normalise_host(host)?, *ns, *ty),
            _ => return err("too many parts: a source address is [hostname/]namespace/type"),
        };
        if namespace.is_empty() {
            return err("the namespace is empty");
        }
        if type_raw.is_empty() {
            return err("the provider type is empty");
        }
        if namespace == "-" {
            return err("the legacy namespace \"-\" is not a real provider namespace: use the provider's own namespace");
        }
        let namespace = normalise_label(namespace, "namespace")?;
        let type_name = fold(type_raw);
        if let Some(rest) = type_name.strip_prefix("terraform-provider-") {
            if normalise_label(rest, "type").is_ok() {
                let suggestion = Self { host: host.clone(), namespace: namespace.clone(), type_name: rest.to_string() };
                return err(format!("the type must not start with \"terraform-provider-\": did you mean {}?", suggestion));
            }
        }
        if type_name.starts_with("terraform-") {
            return err("the type must not start with \"terraform-\"");
        }
        let type_name = normalise_label(&type_name, "type")?;
        if host == "terraform.io" && namespace == "builtin" {
            return err("terraform.io/builtin/… is built into Terraform, not a provider the program tracks");
        }
        Ok(Self { host, namespace, type_name })
    }

    /// Rebuilds an address from the normalised parts stored in the database.
    /// The parts were validated on the way in, so they are trusted here.
    pub fn from_stored(host: &str, namespace: &str, type_name: &str) -> Self {
        Self { host: host.to_string(), namespace: namespace.to_string(), type_name: type_name.to_string() }
    }

    /// ASCII host (punycode) with a non-default port, as stored.
    pub fn host(&self) -> &str {
        &self.host
    }
    pub fn namespace(&self) -> &str {
        &self.namespace
    }
    pub fn type_name(&self) -> &str {
        &self.type_name
    }

    /// The host as people read it: Unicode labels, port kept.
    pub fn host_display(&self) -> String {
        let (name, port) = split_port(&self.host);
        let (unicode, result) = idna::domain_to_unicode(name);
        let name = if result.is_ok() { unicode } else { name.to_string() };
        match port {
            Some(p) => format!("{name}:{p}"),
            None => name,
        }
    }

    pub fn is_public_registry(&self) -> bool {
        self.host == PUBLIC_REGISTRY_HOST
    }

    /// The fully-qualified form used for storage and uniqueness.
    pub fn fully_qualified(&self) -> String {
        format!("{}/{}/{}", self.host, self.namespace, self.type_name)
    }

    /// The provider's page on the public registry, when it lives there.
    pub fn registry_page_url(&self) -> Option<String> {
        self.is_public_registry().then(|| format!("https://registry.terraform.io/providers/{}/{}", self.namespace, self.type_name))
    }
}

/// `namespace/type` on the public registry, `host/namespace/type` elsewhere.
impl fmt::Display for SourceAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_public_registry() {
            write!(f, "{}/{}", self.namespace, self.type_name)
        } else {
            write!(f, "{}/{}/{}", self.host_display(), self.namespace, self.type_name)
        }
    }
}

/// Case-folds and NFC-normalises, so decomposed and precomposed input agree.
fn fold(s: &str) -> String {
    s.nfc().collect::<String>().to_lowercase().nfc().collect()
}

/// Namespace and type are each treated like one DNS label.
fn normalise_label(raw: &str, what: &str) -> Result<String, SourceAddressError> {
    let label = fold(raw);
    if label.is_empty() {
        return err(format!("the {what} is empty"));
    }
    if label.contains('.') {
        return err(format!("the {what} \"{raw}\" contains a dot; dots are not allowed"));
    }
    if label.contains("--") {
        return err(format!("the {what} \"{raw}\" contains consecutive dashes (\"--\"), which are not allowed"));
    }
    if label.starts_with('-') || label.ends_with('-') {
        return err(format!("the {what} \"{raw}\" must not start or end with a dash"));
    }
    if let Some(bad) = label.chars().find(|c| !(c.is_alphanumeric() || *c == '-')) {
        return err(format!("the {what} \"{raw}\" contains \"{bad}\": use only letters, digits and dashes"));
    }
    if label.chars().count() > MAX_LABEL_CHARS {
        return err(format!("the {what} is longer than {MAX_LABEL_CHARS} characters"));
    }
    Ok(label)
}

fn split_port(host: &str) -> (&str, Option<&str>) {
    match host.rsplit_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    }
}

/// Lowercase, Unicode to punycode, `:443` dropped, other ports without
/// leading zeros. Punycode typed by the user is refused (they type Unicode).
fn normalise_host(raw: &str) -> Result<String, SourceAddressError> {
    if raw.is_empty() {
        return err("the hostname is empty");
    }
    let (name, port) = split_port(raw);
    let port = match port {
        None => None,
        Some("") => return err(format!("the hostname \"{raw}\" ends with \":\" but has no port")),
        Some(p) if !p.bytes().all(|b| b.is_ascii_digit()) => return err(format!("the port \"{p}\" must be digits only")),
        Some(p) => {
            let digits = p.trim_start_matches('0');
            let value: u32 = if digits.is_empty() {
                0
            } else if digits.len() > 5 {
                u32::MAX
            } else {
                digits.parse().unwrap_or(u32::MAX)
            };
            if value == 0 || value > 65535 {
                return err(format!("the port {p} is out of range (1–65535)"));
            }
            (value != 443).then(|| value.to_string())
        }
    };
    let name = fold(name);
    if name.is_empty() {
        return err("the hostname is empty");
    }
    for label in name.split('.') {
        if label.is_empty() {
            return err(format!("the hostname \"{raw}\" has an empty label (\"..\" or a dot at either end)"));
        }
        if label.starts_with("xn--") {
            return err(format!("the hostname \"{raw}\" is in punycode: type it in Unicode (e.g. münchen.de, not xn--mnchen-3ya.de)"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return err(format!("the hostname label \"{label}\" must not start or end with a dash"));
        }
        if let Some(bad) = label.chars().find(|c| !(c.is_alphanumeric() || *c == '-')) {
            return err(format!("the hostname \"{raw}\" contains \"{bad}\", which is not allowed in a hostname"));
        }
    }
    let ascii = idna::domain_to_ascii(&name).map_err(|_| SourceAddressError(format!("\"{raw}\" is not a valid hostname")))?;
    if ascii.split('.').any(|l| l.len() > 63) || ascii.len() > 253 {
        return err(format!("the hostname \"{raw}\" is too long"));
    }
    Ok(match port {
        Some(p) => format!("{ascii}:{p}"),
        None => ascii,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (input, fully-qualified form, display form)
    const VALID: &[(&str, &str, &str)] = &[
        ("hashicorp/aws", "registry.terraform.io/hashicorp/aws", "hashicorp/aws"),
        ("registry.Terraform.io/HashiCorp/AWS", "registry.terraform.io/hashicorp/aws", "hashicorp/aws"),
        ("registry.terraform.io:443/hashicorp/aws", "registry.terraform.io/hashicorp/aws", "hashicorp/aws"),
        ("  cisco/aci  ", "registry.terraform.io/cisco/aci", "cisco/aci"),
        ("localhost:8080/foo/bar", "localhost:8080/foo/bar", "localhost:8080/foo/bar"),
        ("example.com:081/acme/foo", "example.com:81/acme/foo", "example.com:81/acme/foo"),
        ("example.com:0443/acme/foo", "example.com/acme/foo", "example.com/acme/foo"),
        (
            "Terraform.Example.COM/ExampleCorp/OurCloud",
            "terraform.example.com/examplecorp/ourcloud",
            "terraform.example.com/examplecorp/ourcloud",
        ),
        ("münchen.de/stadt/wetter", "xn--mnchen-3ya.de/stadt/wetter", "münchen.de/stadt/wetter"),
        ("MÜNCHEN.de/stadt/wetter", "xn--mnchen-3ya.de/stadt/wetter", "münchen.de/stadt/wetter"),
        ("example.com/Испытание/demo", "example.com/испытание/demo", "example.com/испытание/demo"),
        // decomposed ü (u + combining diaeresis) becomes the precomposed form
        ("example.com/mu\u{0308}nchen/demo", "example.com/m\u{00fc}nchen/demo", "example.com/m\u{00fc}nchen/demo"),
        ("a-b/c-d", "registry.terraform.io/a-b/c-d", "a-b/c-d"),
        ("acme2/x1", "registry.terraform.io/acme2/x1", "acme2/x1"),
        ("tf.internal.example:65535/team/net", "tf.internal.example:65535/team/net", "tf.internal.example:65535/team/net"),
        ("terraform.io/hashicorp/terraform", "terraform.io/hashicorp/terraform", "terraform.io/hashicorp/terraform"),
        ("hashicorp/terraformer", "registry.terraform.io/hashicorp/terraformer", "hashicorp/terraformer"),
        ("registry.opentofu.org/opentofu/random", "registry.opentofu.org/opentofu/random", "registry.opentofu.org/opentofu/random"),
        ("1/2", "registry.terraform.io/1/2", "1/2"),
        ("app.terraform.io/my-org/internal", "app.terraform.io/my-org/internal", "app.terraform.io/my-org/internal"),
    ];

    /// (input, a fragment the error message must contain)
    const INVALID: &[(&str, &str)] = &[
        ("", "enter a source address"),
        ("   ", "enter a source address"),
        ("aws", "add it, e.g. hashicorp/aws"),
        ("a/b/c/d", "too many parts"),
        ("/aws", "namespace is empty"),
        ("hashicorp/", "type is empty"),
        ("example.com//aws", "namespace is empty"),
        ("/hashicorp/aws", "hostname is empty"),
        ("example.com/bad.namespace/aws", "contains a dot"),
        ("hashicorp/aws.v2", "contains a dot"),
        ("foo--bar/aws", "consecutive dashes"),
        ("xn--80akhbyknj4f/aws", "consecutive dashes"),
        ("-acme/foo", "must not start or end with a dash"),
        ("acme-/foo", "must not start or end with a dash"),
        ("acme/foo-", "must not start or end with a dash"),
        ("ac me/foo", "contains \" \""),
        ("acme/foo_bar", "contains \"_\""),
        ("acme/föö!", "contains \"!\""),
        ("example.com/acme/terraform-provider-foo", "did you mean example.com/acme/foo?"),
        ("acme/terraform-provider-foo", "did you mean acme/foo?"),
        ("acme/terraform-foo", "must not start with \"terraform-\""),
        ("acme/terraform-provider-", "must not start with \"terraform-\""),
        ("-/aws", "legacy namespace"),
        ("registry.terraform.io/-/aws", "legacy namespace"),
        ("terraform.io/builtin/terraform", "built into Terraform"),
        ("https://registry.terraform.io/hashicorp/aws", "not a URL"),
        ("example.com:/acme/foo", "has no port"),
        ("example.com:http/acme/foo", "digits only"),
        ("example.com:65536/acme/foo", "out of range"),
        ("example.com:0/acme/foo", "out of range"),
        ("example.com:99999999999999999999/acme/foo", "out of range"),
        ("a..b/acme/foo", "empty label"),
        (".example.com/acme/foo", "empty label"),
        ("example.com./acme/foo", "empty label"),
        ("badhost!/acme/foo", "contains \"!\""),
        ("user@example.com/acme/foo", "contains \"@\""),
        ("xn--mnchen-3ya.de/acme/foo", "punycode"),
        ("-bad.example.com/acme/foo", "must not start or end with a dash"),
        ("[::1]:8080/acme/foo", "not allowed in a hostname"),
        ("acme/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "longer than 64"),
        ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com/acme/foo", "too long"),
    ];

    #[test]
    fn valid_addresses_normalise() {
        for (input, fq, display) in VALID {
            let addr = SourceAddress::parse(input).unwrap_or_else(|e| panic!("{input:?} should parse, got {e}"));
            assert_eq!(addr.fully_qualified(), *fq, "fully qualified form of {input:?}");
            assert_eq!(addr.to_string(), *display, "display form of {input:?}");
        }
    }

    #[test]
    fn invalid_addresses_explain_why() {
        for (input, fragment) in INVALID {
            match SourceAddress::parse(input) {
                Ok(a) => panic!("{input:?} should be refused, parsed as {}", a.fully_qualified()),
                Err(e) => assert!(e.0.contains(fragment), "error for {input:?} should mention {fragment:?}, was {:?}", e.0),
            }
        }
    }

    #[test]
    fn display_form_parses_back_to_the_same_address() {
        for (input, _, _) in VALID {
            let addr = SourceAddress::parse(input).unwrap();
            assert_eq!(SourceAddress::parse(&addr.to_string()).unwrap(), addr, "{input:?}");
        }
    }

    #[test]
    fn registry_page_only_for_public_registry() {
        let public = SourceAddress::parse("cisco/aci").unwrap();
        assert_eq!(public.registry_page_url().as_deref(), Some("https://registry.terraform.io/providers/cisco/aci"));
        assert_eq!(SourceAddress::parse("example.com/a/b").unwrap().registry_page_url(), None);
    }

    #[test]
    fn stored_parts_round_trip() {
        let a = SourceAddress::parse("münchen.de/stadt/wetter").unwrap();
        let b = SourceAddress::from_stored(a.host(), a.namespace(), a.type_name());
        assert_eq!(a, b);
        assert_eq!(b.to_string(), "münchen.de/stadt/wetter");
    }
}
