//! Integration Tracker: the product's rules, use cases and pages.
//!
//! - `domain`: pure program rules (no I/O), shared with the browser.
//! - `services`, `store`, `context` (server only): use cases, database, and
//!   the glue that hands them to server functions.
//! - `pages`, `components`: the screens and their shared pieces.
#![recursion_limit = "256"]

pub mod components;
pub mod domain;
pub mod error;
pub mod pages;

#[cfg(feature = "ssr")]
pub mod context;
#[cfg(feature = "ssr")]
pub mod services;
#[cfg(feature = "ssr")]
pub mod store;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes, A};
use leptos_router::{path, SsrMode};

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Who is signed in: the header and the pages' action buttons read it.
    provide_context(components::CurrentCaller(Resource::new(|| (), |_| pages::sign_in::whoami())));
    // Marks the page once the wasm has taken over, for tests and styling.
    Effect::new(move |_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
    view! {
        <Stylesheet id="leptos" href="/pkg/app.css"/>
        <Title text="Integration Tracker"/>
        <Router>
            <a class="skip" href="#main">"Skip to content"</a>
            <TopBar/>
            <main id="main">
                // Async rendering: every page arrives complete, so it reads and
                // works without JavaScript and can answer with a real 404.
                <Routes fallback=pages::NotFound>
                    <Route path=path!("/") view=pages::home::DashboardPage ssr=SsrMode::Async/>
                    <Route path=path!("/sign-in") view=pages::sign_in::SignInPage ssr=SsrMode::Async/>
                    <Route path=path!("/sign-in/refused") view=pages::sign_in::RefusedPage ssr=SsrMode::Async/>
                    <Route path=path!("/invite/:token") view=pages::sign_in::InvitePage ssr=SsrMode::Async/>
                    <Route path=path!("/settings/tokens") view=pages::account::TokensPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin/users") view=pages::users::UsersPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin/users/:id") view=pages::users::UserPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin/audit") view=pages::audit::AuditPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin/templates") view=pages::templates::TemplatesPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin/registry") view=pages::registry::PollerStatusPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin/sla") view=pages::support::SlaSettingsPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin/outbox") view=pages::alerts::OutboxPage ssr=SsrMode::Async/>
                    <Route path=path!("/alerts") view=pages::alerts::AlertsPage ssr=SsrMode::Async/>
                    <Route path=path!("/flags") view=pages::flags::FlagsPage ssr=SsrMode::Async/>
                    <Route path=path!("/flags/:id") view=pages::flags::FlagPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin/flags") view=pages::flags::FlagSettingsPage ssr=SsrMode::Async/>
                    <Route path=path!("/partners/:slug/dashboard") view=pages::dashboard::PartnerDashboardPage ssr=SsrMode::Async/>
                    <Route path=path!("/review") view=pages::review::ReviewPage ssr=SsrMode::Async/>
                    <Route path=path!("/issues") view=pages::support::IssuesPage ssr=SsrMode::Async/>
                    <Route path=path!("/issues/:id") view=pages::support::IssuePage ssr=SsrMode::Async/>
                    <Route path=path!("/sla") view=pages::support::SlaOverviewPage ssr=SsrMode::Async/>
                    <Route path=path!("/partners") view=pages::partners::PartnersPage ssr=SsrMode::Async/>
                    <Route path=path!("/partners/new") view=pages::partners::PartnerEditPage ssr=SsrMode::Async/>
                    <Route path=path!("/partners/:slug") view=pages::partners::PartnerPage ssr=SsrMode::Async/>
                    <Route path=path!("/partners/:slug/edit") view=pages::partners::PartnerEditPage ssr=SsrMode::Async/>
                    <Route path=path!("/integrations") view=pages::integrations::IntegrationsPage ssr=SsrMode::Async/>
                    <Route path=path!("/integrations/new") view=pages::integrations::IntegrationEditPage ssr=SsrMode::Async/>
                    <Route path=path!("/integrations/:id") view=pages::integrations::IntegrationPage ssr=SsrMode::Async/>
                    <Route path=path!("/integrations/:id/edit") view=pages::integrations::IntegrationEditPage ssr=SsrMode::Async/>
                    <Route path=path!("/integrations/:id/checks/:check") view=pages::checks::CheckPage ssr=SsrMode::Async/>
                </Routes>
            </main>
        </Router>
    }
}

/// The header: the product's name, the sections the caller may use, who is
/// signed in, and the sign-out button.
#[component]
fn TopBar() -> impl IntoView {
    let components::CurrentCaller(me) = expect_context::<components::CurrentCaller>();
    view! {
        <header class="top">
            <a class="brand" href="/">"Integration Tracker"</a>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    me.await.ok().flatten().map(|caller| {
                        let admin = caller.role == domain::access::Role::Admin;
                        let staff = caller.role.is_staff();
                        view! {
                            <nav aria-label="Main">
                                <A href="/partners">"Partners"</A>
                                <A href="/integrations">"Integrations"</A>
                                <A href="/issues">"Issues"</A>
                                {staff.then(|| view! { <A href="/review">"Review queue"</A><A href="/sla">"SLA"</A><A href="/flags">"Tier flags"</A> })}
                                {admin.then(|| view! { <A href="/admin/users">"Users"</A><A href="/admin/templates">"Templates"</A><A href="/admin/audit">"Audit"</A><A href="/admin/registry">"Poller"</A><A href="/admin/sla">"SLA settings"</A><A href="/admin/outbox">"Outbox"</A><A href="/admin/flags">"Flag settings"</A> })}
                            </nav>
                            <div class="account">
                                <a href="/settings/tokens" title="API tokens">{caller.name.clone()}</a>
                                <a href="/alerts">"Alerts"</a>
                                <span class="role">{caller.role.label()}</span>
                                <form method="post" action="/auth/sign-out">
                                    <button type="submit">"Sign out"</button>
                                </form>
                            </div>
                        }
                    })
                })}
            </Suspense>
        </header>
    }
}

/// The browser's entry point: takes over the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}
