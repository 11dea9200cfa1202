//! Sign-in with GitHub (OAuth app web flow, `shared/spec/github.md`): the
//! authorize redirect, the code exchange, and reading who the person is —
//! numeric id, primary verified email, organisations.

use crate::config::GithubConfig;
use app::services::sign_in::Identity;
use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse, TokenUrl,
};
use serde::Deserialize;

type Client = BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

pub struct GithubClient {
    config: GithubConfig,
    oauth: Option<Client>,
    http: reqwest::Client,
}

/// Why a GitHub sign-in failed, for the log; people see a short message.
#[derive(Debug, thiserror::Error)]
pub enum GithubError {
    #[error("GitHub sign-in is misconfigured: {0}")]
    Config(String),
    #[error("GitHub refused the code: {0}")]
    Exchange(String),
    #[error("GitHub did not grant the scopes we need (granted: {0:?}); read:org and user:email are required")]
    Scopes(String),
    #[error("GitHub API {0}: {1}")]
    Api(String, String),
    #[error("GitHub API {0}: answered 404 Not Found")]
    NotFound(String),
    #[error("the GitHub account has no verified primary email")]
    NoVerifiedEmail,
}

#[derive(Deserialize)]
struct GithubUser {
    id: i64,
    login: String,
    name: Option<String>,
}

#[derive(Deserialize)]
struct GithubEmail {
    email: String,
    primary: bool,
    verified: bool,
}

#[derive(Deserialize)]
struct GithubOrg {
    id: i64,
}

/// The most pages of `/user/orgs` read (100 organisations each).
const MAX_ORG_PAGES: usize = 10;

impl GithubClient {
    pub fn new(config: GithubConfig, base_url: &str, http: reqwest::Client) -> Self {
        let oauth = (|| {
            Some(
                BasicClient::new(ClientId::new(config.client_id.clone()))
                    .set_client_secret(ClientSecret::new(config.client_secret.clone()))
                    .set_auth_uri(AuthUrl::new(format!("{}/login/oauth/authorize", config.web_url)).ok()?)
                    .set_token_uri(TokenUrl::new(format!("{}/login/oauth/access_token", config.web_url)).ok()?)
                    .set_redirect_uri(RedirectUrl::new(format!("{base_url}/auth/github/callback")).ok()?)
                    // GitHub documents client_id and client_secret as form fields.
                    .set_auth_type(AuthType::RequestBody),
            )
        })();
        if oauth.is_none() {
            tracing::error!(url = config.web_url, "GITHUB_URL is not a valid URL; GitHub sign-in is off");
        }
        GithubClient { config, oauth, http }
    }

    fn oauth(&self) -> Result<&Client, GithubError> {
        self.oauth.as_ref().ok_or_else(|| GithubError::Config("GITHUB_URL is not a valid URL".into()))
    }

    /// The provider URL to send the browser to, the `state`, and the PKCE verifier to keep.
    pub fn authorize_url(&self) -> Result<(String, String, String), GithubError> {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = self
            .oauth()?
            .authorize_url(CsrfToken::new_random)
            .add_scope(Scope::new("read:org".into()))
            .add_scope(Scope::new("user:email".into()))
            .set_pkce_challenge(challenge)
            .url();
        Ok((url.to_string(), state.secret().clone(), verifier.secret().clone()))
    }

    /// Exchanges the code and reads the person's identity from the API.
    pub async fn identity(&self, code: &str, pkce_verifier: &str) -> Result<Identity, GithubError> {
        let token = self
            .oauth()?
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_string()))
            .request_async(&self.http)
            .await
            .map_err(|e| GithubError::Exchange(describe(&e)))?;
        // GitHub separates granted scopes with commas; people may grant fewer.
        let granted: Vec<String> =
            token.scopes().map(|s| s.iter().flat_map(|s| s.split(',')).map(|s| s.trim().to_string()).collect()).unwrap_or_default();
        let has = |want: &str| granted.iter().any(|g| g == want || (want == "read:org" && (g == "admin:org" || g == "write:org")));
        if !has("read:org") || !(has("user:email") || has("user")) {
            return Err(GithubError::Scopes(granted.join(",")));
        }
        let access = token.access_token().secret();
        let user: GithubUser = self.get(access, "/user").await?;
        let emails: Vec<GithubEmail> = self.get(access, "/user/emails").await?;
        let orgs = self.orgs(access).await?;
        let email = emails.into_iter().find(|e| e.primary && e.verified).map(|e| e.email).ok_or(GithubError::NoVerifiedEmail)?;
        Ok(Identity {
            provider: "github".into(),
            subject: user.id.to_string(),
            email: Some(email),
            name: user.name.filter(|n| !n.trim().is_empty()).or(Some(user.login)),
            github_orgs: orgs,
        })
    }

    /// The ids of every organisation the person belongs to, page by page
    /// (GitHub lists 30 unless asked for up to 100), following `link` only
    /// within the API's own address: the token goes with each request.
    async fn orgs(&self, access_token: &str) -> Result<Vec<i64>, GithubError> {
        let mut ids = Vec::new();
        let mut url = format!("{}/user/orgs?per_page=100", self.config.api_url);
        for page_number in 1..=MAX_ORG_PAGES {
            let (page, next): (Vec<GithubOrg>, Option<String>) = self.get_page(Some(access_token), "/user/orgs", &url).await?;
            ids.extend(page.into_iter().map(|o| o.id));
            let Some(next) = next else { break };
            if !next.starts_with(&format!("{}/", self.config.api_url)) {
                tracing::warn!(next, "GitHub's next page of /user/orgs is off the API's address; not followed");
                break;
            }
            if page_number == MAX_ORG_PAGES {
                tracing::warn!(read = ids.len(), "stopped reading /user/orgs after {MAX_ORG_PAGES} pages");
            }
            url = next;
        }
        Ok(ids)
    }

    /// GitHub's numeric id of the organisation `login`, or `None` when it
    /// has none by that name. Organisations are public on github.com; the
    /// sync's token (`GITHUB_TOKEN`), when set, goes along for an Enterprise
    /// server that shows nothing to anonymous callers. Staff type the login;
    /// it passed `validate_github_org`, so it is letters, digits and dashes.
    pub async fn org_id(&self, login: &str, token: Option<&str>) -> Result<Option<i64>, GithubError> {
        if login.is_empty() || !login.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Ok(None);
        }
        let path = format!("/orgs/{login}");
        let url = format!("{}{path}", self.config.api_url);
        match self.get_page::<GithubOrg>(token, &path, &url).await {
            Ok((org, _)) => Ok(Some(org.id)),
            Err(GithubError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, access_token: &str, path: &str) -> Result<T, GithubError> {
        let url = format!("{}{path}", self.config.api_url);
        Ok(self.get_page(Some(access_token), path, &url).await?.0)
    }

    /// One answer and its `rel="next"` link; `path` names it in errors.
    async fn get_page<T: serde::de::DeserializeOwned>(
        &self,
        access_token: Option<&str>,
        path: &str,
        url: &str,
    ) -> Result<(T, Option<String>), GithubError> {
        let mut request = self.http.get(url).header("Accept", "application/vnd.github+json").header("X-GitHub-Api-Version", "2022-11-28");
        if let Some(token) = access_token {
            request = request.bearer_auth(token);
        }
        let res = request.send().await.map_err(|e| GithubError::Api(path.into(), e.to_string()))?;
        let status = res.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(GithubError::NotFound(path.into()));
        }
        if !status.is_success() {
            return Err(GithubError::Api(path.into(), format!("answered {status}")));
        }
        let next = app::domain::github::next_link(res.headers().get(reqwest::header::LINK).and_then(|v| v.to_str().ok()));
        let body = res.json().await.map_err(|e| GithubError::Api(path.into(), format!("unexpected body: {e}")))?;
        Ok((body, next))
    }
}

/// Auto-join's organisation lookup for the partner service: through the
/// GitHub sign-in client, or refused with the reason when GitHub sign-in is
/// off (then nobody could join through an organisation).
pub fn org_lookup(auth: &super::SharedAuth, token: Option<String>) -> app::services::partners::GithubOrgs {
    if auth.github.is_none() {
        return app::services::partners::GithubOrgs::default();
    }
    let auth = auth.clone();
    app::services::partners::GithubOrgs::new(move |login| {
        let (auth, token) = (auth.clone(), token.clone());
        Box::pin(async move {
            let github = auth.github.as_ref().ok_or_else(|| "GitHub sign-in is not configured".to_string())?;
            github.org_id(&login, token.as_deref()).await.map_err(|e| {
                tracing::warn!(error = %e, org = login, "could not look a GitHub organisation up");
                e.to_string()
            })
        })
    })
}

/// The server's error code and description when there is one.
pub(crate) fn describe<E: std::error::Error>(e: &E) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
