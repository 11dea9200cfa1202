//! One module per screen, each with its server functions.

pub mod account;
pub mod alerts;
pub mod audit;
pub mod checks;
pub mod dashboard;
pub mod flags;
pub mod home;
pub mod integrations;
pub mod partners;
pub mod pipeline;
pub mod registry;
pub mod review;
pub mod run_task;
pub mod sign_in;
pub mod support;
pub mod templates;
pub mod users;

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::context::set_status(404);
    view! {
        <Title text="Not found · Integration Tracker"/>
        <h1>"Page not found"</h1>
        <p>"There is nothing at this address. Go to the " <a href="/partners">"partners"</a> " or the " <a href="/integrations">"integrations"</a> "."</p>
    }
}
