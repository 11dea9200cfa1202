//! A small stand-in for github.com and api.github.com that speaks their
//! OAuth web flow, the three REST calls sign-in makes, and the public
//! organisation lookup auto-join makes, with GitHub's payload shapes
//! (`shared/spec/github.md`). It checks what GitHub checks: client
//! credentials, the code (once, 10 minutes in real life), PKCE. It pages
//! `/user/orgs` as GitHub does (30 unless `per_page` says up to 100, a
//! `link` header to the next page), and organisations keep their numeric
//! id through a rename.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

pub const CLIENT_ID: &str = "Iv1.test-client";
pub const CLIENT_SECRET: &str = "test-secret";

/// A GitHub account the next authorization signs in as.
#[derive(Clone, Debug)]
pub struct Account {
    pub id: i64,
    pub login: String,
    pub name: Option<String>,
    /// (email, primary, verified)
    pub emails: Vec<(String, bool, bool)>,
    /// Logins of the organisations the person belongs to, as they are
    /// named when the person signs in.
    pub orgs: Vec<String>,
    /// What the person granted, as GitHub writes it.
    pub scope: String,
}

impl Account {
    pub fn new(id: i64, login: &str, email: &str) -> Self {
        Account {
            id,
            login: login.into(),
            name: Some(format!("{login} (GitHub)")),
            emails: vec![(email.into(), true, true)],
            orgs: vec![],
            scope: "read:org,user:email".into(),
        }
    }
}

#[derive(Default)]
struct Inner {
    next: Option<Account>,
    /// code → (account, code_challenge, redirect_uri)
    codes: HashMap<String, (Account, String, String)>,
    tokens: HashMap<String, Account>,
    counter: u64,
    /// lowercased login → (id, login as written)
    organisations: HashMap<String, (i64, String)>,
    /// The `authorization` header of each organisation lookup.
    lookups: Vec<Option<String>>,
}

impl Inner {
    /// The organisation's id, registering it when GitHub has none by that login.
    fn organisation(&mut self, login: &str) -> i64 {
        let next = 9000 + self.organisations.len() as i64;
        self.organisations.entry(login.to_lowercase()).or_insert_with(|| (next, login.to_string())).0
    }
}

#[derive(Clone)]
pub struct FakeGithub {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

impl FakeGithub {
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let router = Router::new()
            .route("/login/oauth/authorize", get(authorize))
            .route("/login/oauth/access_token", post(access_token))
            .route("/user", get(user))
            .route("/user/emails", get(emails))
            .route("/user/orgs", get(orgs))
            .route("/orgs/{org}", get(organisation))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind fake GitHub");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        FakeGithub { url: format!("http://{addr}"), inner }
    }

    /// The account the next authorization signs in as.
    pub fn sign_in_as(&self, account: Account) {
        self.inner.lock().expect("lock").next = Some(account);
    }

    /// Registers an organisation (if nobody has that login yet); its id.
    pub fn organisation(&self, login: &str) -> i64 {
        self.inner.lock().expect("lock").organisation(login)
    }

    /// The `authorization` header each `GET /orgs/{org}` came with.
    pub fn lookups(&self) -> Vec<Option<String>> {
        self.inner.lock().expect("lock").lookups.clone()
    }

    /// Renames an organisation: it keeps its id, and the old login is free.
    pub fn rename_organisation(&self, from: &str, to: &str) {
        let mut inner = self.inner.lock().expect("lock");
        let (id, _) = inner.organisations.remove(&from.to_lowercase()).expect("a registered organisation");
        inner.organisations.insert(to.to_lowercase(), (id, to.to_string()));
    }
}

#[derive(Deserialize)]
struct AuthorizeQuery {
    client_id: String,
    redirect_uri: String,
    state: String,
    scope: Option<String>,
    code_challenge: Option<String>,
}

async fn authorize(State(inner): State<Arc<Mutex<Inner>>>, Query(q): Query<AuthorizeQuery>) -> Response {
    if q.client_id != CLIENT_ID {
        return (StatusCode::NOT_FOUND, "unknown client").into_response();
    }
    let scope = q.scope.unwrap_or_default();
    assert!(scope.contains("read:org") && scope.contains("user:email"), "asked for scopes {scope:?}");
    let mut inner = inner.lock().expect("lock");
    let Some(account) = inner.next.clone() else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "test did not choose an account").into_response();
    };
    inner.counter += 1;
    let code = format!("code{}", inner.counter);
    inner.codes.insert(code.clone(), (account, q.code_challenge.unwrap_or_default(), q.redirect_uri.clone()));
    let sep = if q.redirect_uri.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{}{sep}code={code}&state={}", q.redirect_uri, q.state)).into_response()
}

#[derive(Deserialize)]
struct TokenForm {
    client_id: String,
    client_secret: String,
    code: String,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
}

/// GitHub answers errors here with status 200 and an `error` field.
async fn access_token(State(inner): State<Arc<Mutex<Inner>>>, headers: HeaderMap, Form(f): Form<TokenForm>) -> Json<serde_json::Value> {
    assert!(
        headers.get("accept").and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("application/json")),
        "the token request must ask for JSON"
    );
    if f.client_id != CLIENT_ID || f.client_secret != CLIENT_SECRET {
        return Json(
            json!({"error": "incorrect_client_credentials", "error_description": "The client_id and/or client_secret passed are incorrect."}),
        );
    }
    let mut inner = inner.lock().expect("lock");
    let Some((account, challenge, redirect_uri)) = inner.codes.remove(&f.code) else {
        return Json(json!({"error": "bad_verification_code", "error_description": "The code passed is incorrect or expired."}));
    };
    if f.redirect_uri.as_deref().is_some_and(|r| r != redirect_uri) {
        return Json(json!({"error": "redirect_uri_mismatch"}));
    }
    if !challenge.is_empty() {
        let verifier = f.code_verifier.unwrap_or_default();
        let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        if computed != challenge {
            return Json(json!({"error": "bad_verification_code", "error_description": "PKCE verification failed"}));
        }
    }
    inner.counter += 1;
    let token = format!("gho_test{}", inner.counter);
    inner.tokens.insert(token.clone(), account.clone());
    Json(json!({"access_token": token, "scope": account.scope, "token_type": "bearer"}))
}

fn account_of(inner: &Arc<Mutex<Inner>>, headers: &HeaderMap) -> Option<Account> {
    let token = headers.get("authorization")?.to_str().ok()?.strip_prefix("Bearer ")?.to_string();
    inner.lock().ok()?.tokens.get(&token).cloned()
}

fn unauthorized() -> Response {
    (StatusCode::UNAUTHORIZED, Json(json!({"message": "Requires authentication", "documentation_url": "https://docs.github.com/rest"})))
        .into_response()
}

async fn user(State(inner): State<Arc<Mutex<Inner>>>, headers: HeaderMap) -> Response {
    let Some(a) = account_of(&inner, &headers) else {
        return unauthorized();
    };
    Json(json!({
        "login": a.login, "id": a.id, "node_id": "MDQ6VXNlcjE=", "type": "User", "site_admin": false,
        "name": a.name, "company": null, "email": null, "html_url": format!("https://github.com/{}", a.login),
        "created_at": "2015-03-04T10:00:00Z"
    }))
    .into_response()
}

async fn emails(State(inner): State<Arc<Mutex<Inner>>>, headers: HeaderMap) -> Response {
    let Some(a) = account_of(&inner, &headers) else {
        return unauthorized();
    };
    let list: Vec<_> = a
        .emails
        .iter()
        .map(|(email, primary, verified)| json!({"email": email, "primary": primary, "verified": verified, "visibility": if *primary { json!("private") } else { serde_json::Value::Null }}))
        .collect();
    Json(json!(list)).into_response()
}

#[derive(Deserialize)]
struct PageQuery {
    per_page: Option<usize>,
    page: Option<usize>,
}

async fn orgs(State(inner): State<Arc<Mutex<Inner>>>, headers: HeaderMap, Query(q): Query<PageQuery>) -> Response {
    let Some(a) = account_of(&inner, &headers) else {
        return unauthorized();
    };
    let mut state = inner.lock().expect("lock");
    let list: Vec<_> = a
        .orgs
        .iter()
        .map(|login| {
            let id = state.organisation(login);
            json!({"login": login, "id": id, "node_id": format!("O_{id}"), "url": format!("https://api.github.com/orgs/{login}"),
                "description": null})
        })
        .collect();
    let per_page = q.per_page.unwrap_or(30).clamp(1, 100);
    let page = q.page.unwrap_or(1).max(1);
    let items: Vec<_> = list.iter().skip((page - 1) * per_page).take(per_page).cloned().collect();
    let host = headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("localhost").to_string();
    let mut res = Json(json!(items)).into_response();
    if page * per_page < list.len() {
        let link = format!(
            "<http://{host}/user/orgs?per_page={per_page}&page={}>; rel=\"next\", <http://{host}/user/orgs?per_page={per_page}&page={}>; rel=\"last\"",
            page + 1,
            list.len().div_ceil(per_page)
        );
        res.headers_mut().insert("link", link.parse().expect("header"));
    }
    res
}

/// `GET /orgs/{org}`: public, any case; 404 in GitHub's words when unknown.
async fn organisation(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    axum::extract::Path(org): axum::extract::Path<String>,
) -> Response {
    let mut state = inner.lock().expect("lock");
    state.lookups.push(headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_string));
    let found = state.organisations.get(&org.to_lowercase()).cloned();
    drop(state);
    match found {
        Some((id, login)) => Json(json!({
            "login": login, "id": id, "node_id": format!("O_{id}"), "url": format!("https://api.github.com/orgs/{login}"),
            "description": "", "name": login, "type": "Organization", "public_repos": 12, "created_at": "2016-05-02T17:00:00Z"
        }))
        .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest/orgs/orgs#get-an-organization", "status": "404"})),
        )
            .into_response(),
    }
}
