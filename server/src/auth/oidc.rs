//! Sign-in with any OpenID Connect provider (Okta, Entra ID, Google…):
//! discovery from the issuer URL, the code flow with PKCE and a nonce, and
//! validation of the ID token (signature against the provider's JWKS,
//! `iss`, `aud`, `exp`, `nonce`). Email and name come from the ID token's
//! claims, or from the userinfo endpoint when the token lacks them.

use super::github::describe;
use crate::config::OidcConfig;
use app::services::sign_in::Identity;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use oauth2::basic::{BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse, BasicTokenType};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet, ExtraTokenFields, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, StandardRevocableToken, StandardTokenResponse, TokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};
use tokio::sync::RwLock;

/// The token response's `id_token`, which plain OAuth2 does not know.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdTokenField {
    pub id_token: Option<String>,
}
impl ExtraTokenFields for IdTokenField {}

type Client = oauth2::Client<
    BasicErrorResponse,
    StandardTokenResponse<IdTokenField, BasicTokenType>,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// The parts of `/.well-known/openid-configuration` we use.
#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    pub userinfo_endpoint: Option<String>,
}

/// Discovery and keys are cached for this long; a token signed with an
/// unknown key id refreshes them at once (keys rotate).
const CACHE_FOR: Duration = Duration::from_secs(15 * 60);

pub struct OidcClient {
    config: OidcConfig,
    redirect_url: String,
    http: reqwest::Client,
    cache: RwLock<Option<(Instant, Discovery, JwkSet)>>,
}

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("cannot read the provider's {0}: {1}")]
    Fetch(&'static str, String),
    #[error("the discovery document names issuer {found:?}, but OIDC_ISSUER_URL is {expected:?}")]
    IssuerMismatch { expected: String, found: String },
    #[error("invalid endpoint URL: {0}")]
    Config(String),
    #[error("the provider refused the code: {0}")]
    Exchange(String),
    #[error("the token response has no id_token")]
    NoIdToken,
    #[error("ID token rejected: {0}")]
    IdToken(String),
    #[error("the nonce in the ID token does not match this sign-in")]
    Nonce,
    #[error("the provider gave no verified email for this person")]
    NoVerifiedEmail,
}

/// The ID token claims we read.
#[derive(Debug, Clone, Deserialize)]
pub struct Claims {
    pub sub: String,
    /// One audience (a string) or several (a list).
    #[serde(default)]
    aud: serde_json::Value,
    /// The client the token was issued to: ours, when there is one.
    azp: Option<String>,
    pub nonce: Option<String>,
    pub email: Option<String>,
    pub email_verified: Option<bool>,
    pub name: Option<String>,
    pub preferred_username: Option<String>,
}

/// OpenID Connect Core 3.1.3.7: with several audiences the token must say
/// which client it was issued to (`azp`), and an `azp` must be ours; else a
/// token issued to another client that lists us too would sign people in.
fn check_authorized_party(claims: &Claims, client_id: &str) -> Result<(), OidcError> {
    let several = claims.aud.as_array().is_some_and(|list| list.len() > 1);
    match claims.azp.as_deref() {
        Some(azp) if azp != client_id => Err(OidcError::IdToken(format!("issued to another client (azp {azp:?})"))),
        None if several => Err(OidcError::IdToken("several audiences but no azp naming this client".into())),
        _ => Ok(()),
    }
}

#[derive(Debug, Deserialize)]
struct UserInfo {
    sub: String,
    email: Option<String>,
    email_verified: Option<bool>,
    name: Option<String>,
}

/// Checks an ID token: signed by a key in `keys` with an asymmetric
/// algorithm, issued by `issuer` for `client_id`, not expired (one minute
/// of clock skew allowed), and carrying the `nonce` this sign-in sent.
pub fn validate_id_token(token: &str, keys: &JwkSet, issuer: &str, client_id: &str, nonce: &str) -> Result<Claims, OidcError> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| OidcError::IdToken(e.to_string()))?;
    // Only asymmetric signatures: "none" and HMAC (keyed with a public value) are refused.
    if !matches!(
        header.alg,
        Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512
            | Algorithm::ES256
            | Algorithm::ES384
            | Algorithm::EdDSA
    ) {
        return Err(OidcError::IdToken(format!("algorithm {:?} is not accepted", header.alg)));
    }
    let jwk = match &header.kid {
        Some(kid) => keys.find(kid),
        None if keys.keys.len() == 1 => keys.keys.first(),
        None => None,
    }
    .ok_or_else(|| OidcError::IdToken(format!("no key with id {:?} in the provider's JWKS", header.kid)))?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| OidcError::IdToken(format!("unusable key: {e}")))?;
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[client_id]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.leeway = 60;
    let data = jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(|e| OidcError::IdToken(e.to_string()))?;
    check_authorized_party(&data.claims, client_id)?;
    if data.claims.nonce.as_deref() != Some(nonce) {
        return Err(OidcError::Nonce);
    }
    Ok(data.claims)
}

impl OidcClient {
    pub fn new(config: OidcConfig, base_url: &str, http: reqwest::Client) -> Self {
        OidcClient { config, redirect_url: format!("{base_url}/auth/oidc/callback"), http, cache: RwLock::new(None) }
    }

    pub fn label(&self) -> &str {
        &self.config.label
    }

    async fn fetch_json<T: serde::de::DeserializeOwned>(&self, what: &'static str, url: &str) -> Result<T, OidcError> {
        let res = self.http.get(url).send().await.map_err(|e| OidcError::Fetch(what, describe(&e)))?;
        if !res.status().is_success() {
            return Err(OidcError::Fetch(what, format!("{url} answered {}", res.status())));
        }
        res.json().await.map_err(|e| OidcError::Fetch(what, format!("{url}: {e}")))
    }

    /// Discovery and keys, from the cache or fetched anew.
    async fn provider(&self, refresh: bool) -> Result<(Discovery, JwkSet), OidcError> {
        if !refresh {
            if let Some((at, d, k)) = self.cache.read().await.as_ref() {
                if at.elapsed() < CACHE_FOR {
                    return Ok((d.clone(), k.clone()));
                }
            }
        }
        let url = format!("{}/.well-known/openid-configuration", self.config.issuer_url);
        let discovery: Discovery = self.fetch_json("discovery document", &url).await?;
        if discovery.issuer.trim_end_matches('/') != self.config.issuer_url {
            return Err(OidcError::IssuerMismatch { expected: self.config.issuer_url.clone(), found: discovery.issuer });
        }
        let keys: JwkSet = self.fetch_json("signing keys (JWKS)", &discovery.jwks_uri).await?;
        *self.cache.write().await = Some((Instant::now(), discovery.clone(), keys.clone()));
        Ok((discovery, keys))
    }

    fn client(&self, d: &Discovery) -> Result<Client, OidcError> {
        let bad = |e: oauth2::url::ParseError| OidcError::Config(e.to_string());
        let mut client = oauth2::Client::new(ClientId::new(self.config.client_id.clone()))
            .set_auth_uri(AuthUrl::new(d.authorization_endpoint.clone()).map_err(bad)?)
            .set_token_uri(TokenUrl::new(d.token_endpoint.clone()).map_err(bad)?)
            .set_redirect_uri(RedirectUrl::new(self.redirect_url.clone()).map_err(bad)?);
        if !self.config.client_secret.is_empty() {
            client = client.set_client_secret(ClientSecret::new(self.config.client_secret.clone()));
        }
        Ok(client)
    }

    /// The URL to send the browser to, the `state`, the PKCE verifier and the nonce.
    pub async fn authorize_url(&self) -> Result<(String, String, String, String), OidcError> {
        let (discovery, _) = self.provider(false).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let nonce = CsrfToken::new_random().secret().clone();
        let (url, state) = self
            .client(&discovery)?
            .authorize_url(CsrfToken::new_random)
            .add_scope(Scope::new("openid".into()))
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .add_extra_param("nonce", nonce.clone())
            .set_pkce_challenge(challenge)
            .url();
        Ok((url.to_string(), state.secret().clone(), verifier.secret().clone(), nonce))
    }

    /// Exchanges the code, validates the ID token, and reads the identity.
    pub async fn identity(&self, code: &str, pkce_verifier: &str, nonce: &str) -> Result<Identity, OidcError> {
        let (discovery, mut keys) = self.provider(false).await?;
        let token = self
            .client(&discovery)?
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_string()))
            .request_async(&self.http)
            .await
            .map_err(|e| OidcError::Exchange(describe(&e)))?;
        let id_token = token.extra_fields().id_token.clone().ok_or(OidcError::NoIdToken)?;
        // A key id we do not know yet: the provider may have rotated its keys.
        let kid = jsonwebtoken::decode_header(&id_token).ok().and_then(|h| h.kid);
        if kid.as_deref().is_some_and(|k| keys.find(k).is_none()) {
            keys = self.provider(true).await?.1;
        }
        let claims = validate_id_token(&id_token, &keys, &discovery.issuer, &self.config.client_id, nonce)?;
        let (mut email, mut verified, mut name) = (claims.email.clone(), claims.email_verified, claims.name.clone());
        if email.is_none() {
            if let Some(url) = &discovery.userinfo_endpoint {
                let info: UserInfo = self
                    .http
                    .get(url)
                    .bearer_auth(token.access_token().secret())
                    .send()
                    .await
                    .map_err(|e| OidcError::Fetch("userinfo", describe(&e)))?
                    .json()
                    .await
                    .map_err(|e| OidcError::Fetch("userinfo", e.to_string()))?;
                if info.sub == claims.sub {
                    email = info.email;
                    verified = info.email_verified;
                    name = name.or(info.name);
                }
            }
        }
        // The address is matched against invitations, so it must be verified;
        // providers that never say (Entra ID) need OIDC_TRUST_UNVERIFIED_EMAIL.
        let trusted = verified == Some(true) || (verified.is_none() && self.config.trust_unverified_email);
        let email = email.filter(|_| trusted).ok_or(OidcError::NoVerifiedEmail)?;
        Ok(Identity {
            provider: "oidc".into(),
            subject: format!("{}|{}", discovery.issuer, claims.sub),
            email: Some(email),
            name: name.or(claims.preferred_username),
            github_orgs: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{encode, EncodingKey, Header};

    // A throwaway RSA key made for these tests only (openssl genrsa 2048).
    const PRIVATE_KEY: &str = include_str!("testdata/oidc-test-key.pem");
    const JWKS: &str = include_str!("testdata/oidc-test-jwks.json");
    const ISSUER: &str = "https://idp.example.com";

    fn token(claims: serde_json::Value, kid: Option<&str>, alg: Algorithm) -> String {
        let mut header = Header::new(alg);
        header.kid = kid.map(str::to_string);
        let key = match alg {
            Algorithm::HS256 => EncodingKey::from_secret(b"public-value"),
            _ => EncodingKey::from_rsa_pem(PRIVATE_KEY.as_bytes()).unwrap(),
        };
        encode(&header, &claims, &key).unwrap()
    }

    fn claims(change: impl FnOnce(&mut serde_json::Value)) -> serde_json::Value {
        let now = chrono::Utc::now().timestamp();
        let mut c = serde_json::json!({
            "iss": ISSUER, "aud": "tracker", "sub": "u1", "exp": now + 300, "iat": now,
            "nonce": "n-123", "email": "ann@example.com", "email_verified": true, "name": "Ann"
        });
        change(&mut c);
        c
    }

    #[test]
    fn id_tokens() {
        let keys: JwkSet = serde_json::from_str(JWKS).unwrap();
        let good = |c: serde_json::Value| token(c, Some("test-key"), Algorithm::RS256);
        let now = chrono::Utc::now().timestamp();
        // (case, token, expected: Ok(sub) or a part of the error)
        let cases: Vec<(&str, String, Result<&str, &str>)> = vec![
            ("valid", good(claims(|_| {})), Ok("u1")),
            ("aud as a list of one", good(claims(|c| c["aud"] = serde_json::json!(["tracker"]))), Ok("u1")),
            (
                "several audiences, azp ours",
                good(claims(|c| {
                    c["aud"] = serde_json::json!(["other", "tracker"]);
                    c["azp"] = "tracker".into();
                })),
                Ok("u1"),
            ),
            ("several audiences, no azp", good(claims(|c| c["aud"] = serde_json::json!(["other", "tracker"]))), Err("no azp")),
            (
                "issued to another client",
                good(claims(|c| {
                    c["aud"] = serde_json::json!(["other", "tracker"]);
                    c["azp"] = "other".into();
                })),
                Err("another client"),
            ),
            ("azp ours, one audience", good(claims(|c| c["azp"] = "tracker".into())), Ok("u1")),
            ("no kid, one key", token(claims(|_| {}), None, Algorithm::RS256), Ok("u1")),
            ("wrong issuer", good(claims(|c| c["iss"] = "https://evil.example".into())), Err("Issuer")),
            ("wrong audience", good(claims(|c| c["aud"] = "someone-else".into())), Err("Audience")),
            ("expired", good(claims(|c| c["exp"] = (now - 3600).into())), Err("Expired")),
            ("wrong nonce", good(claims(|c| c["nonce"] = "tampered".into())), Err("nonce")),
            (
                "no nonce",
                good(claims(|c| {
                    c.as_object_mut().unwrap().remove("nonce");
                })),
                Err("nonce"),
            ),
            ("unknown key id", token(claims(|_| {}), Some("other-key"), Algorithm::RS256), Err("no key")),
            ("HMAC refused", token(claims(|_| {}), Some("test-key"), Algorithm::HS256), Err("not accepted")),
            ("garbage", "not.a.jwt".to_string(), Err("ID token rejected")),
        ];
        for (case, t, expected) in cases {
            let got = validate_id_token(&t, &keys, ISSUER, "tracker", "n-123");
            match (got, expected) {
                (Ok(c), Ok(sub)) => assert_eq!(c.sub, sub, "{case}"),
                (Err(e), Err(part)) => {
                    assert!(format!("{e:?} {e}").contains(part), "{case}: {e:?}")
                }
                (got, expected) => panic!("{case}: got {got:?}, expected {expected:?}"),
            }
        }
    }

    #[test]
    fn a_tampered_signature_is_refused() {
        let keys: JwkSet = serde_json::from_str(JWKS).unwrap();
        let t = token(claims(|_| {}), Some("test-key"), Algorithm::RS256);
        let (head, _) = t.rsplit_once('.').unwrap();
        let forged_body = token(claims(|c| c["sub"] = "admin".into()), Some("test-key"), Algorithm::RS256);
        let forged = format!("{}.{}", forged_body.rsplit_once('.').unwrap().0, t.rsplit_once('.').unwrap().1);
        assert!(head.len() > 10);
        assert!(validate_id_token(&forged, &keys, ISSUER, "tracker", "n-123").is_err());
    }
}
