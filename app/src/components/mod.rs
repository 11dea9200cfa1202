//! Shared UI pieces: form fields that show their errors, paging links,
//! error notices.

pub mod chart;

use crate::error::AppError;
use leptos::prelude::*;

/// A labelled text input with its hint and its error message; the input is
/// marked invalid and described by the message for screen readers.
#[component]
pub fn TextField(
    #[prop(into)] label: String,
    name: &'static str,
    #[prop(into, optional)] value: String,
    #[prop(into, optional)] hint: Option<String>,
    #[prop(into, optional)] placeholder: Option<String>,
    #[prop(optional)] required: bool,
    #[prop(optional)] input_type: Option<&'static str>,
    #[prop(into)] error: Signal<Option<String>>,
) -> impl IntoView {
    let id = format!("f-{name}");
    let described = format!("{id}-hint {id}-error");
    view! {
        <div class="field" class:invalid=move || error.get().is_some()>
            <label for=id.clone()>{label}{required.then(|| view! { <span class="req" aria-hidden="true">" *"</span> })}</label>
            <input
                id=id.clone()
                type=input_type.unwrap_or("text")
                name=name
                value=value
                placeholder=placeholder
                required=required
                aria-invalid=move || if error.get().is_some() { "true" } else { "false" }
                aria-describedby=described
            />
            <FieldHelp id=id hint=hint error=error/>
        </div>
    }
}

/// The hint and error lines under a field.
#[component]
pub fn FieldHelp(id: String, hint: Option<String>, #[prop(into)] error: Signal<Option<String>>) -> impl IntoView {
    view! {
        {hint.map(|h| view! { <p class="hint" id=format!("{id}-hint")>{h}</p> })}
        <p class="field-error" id=format!("{id}-error") aria-live="polite">{move || error.get()}</p>
    }
}

/// The message of an error that is not about one field (or the summary).
#[component]
pub fn ErrorNotice(error: AppError) -> impl IntoView {
    let detail = error
        .fields()
        .map(|f| f.iter().map(|(field, messages)| format!("{}: {}", field.replace('_', " "), messages.join("; "))).collect::<Vec<_>>());
    view! {
        <div class="notice error" role="alert">
            <p>{error.to_string()}</p>
            {detail.map(|d| view! { <ul>{d.into_iter().map(|line| view! { <li>{line}</li> }).collect_view()}</ul> })}
        </div>
    }
}

/// Percent-encodes a query value.
pub fn encode(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `path?k=v&…` with empty values left out.
pub fn href_with(path: &str, params: &[(&str, String)]) -> String {
    let query: Vec<String> = params.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| format!("{k}={}", encode(v))).collect();
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

/// "Previous / page N of M / Next" links that keep the list's filters.
#[component]
pub fn Pager(path: &'static str, params: Vec<(&'static str, String)>, page: i64, pages: i64, total: i64) -> impl IntoView {
    let link = move |p: i64| {
        let mut all = params.clone();
        all.push(("page", if p > 1 { p.to_string() } else { String::new() }));
        href_with(path, &all)
    };
    view! {
        <nav class="pager" aria-label="Pages">
            {(page > 1).then(|| view! { <a rel="prev" href=link(page - 1)>"← Previous"</a> })}
            <span>{format!("Page {page} of {pages} · {total} in all")}</span>
            {(page < pages).then(|| view! { <a rel="next" href=link(page + 1)>"Next →"</a> })}
        </nav>
    }
}

/// True once the wasm has taken over the page: effects run only in the
/// browser, so this stays false in server-rendered HTML.
pub fn use_hydrated() -> ReadSignal<bool> {
    let (hydrated, set_hydrated) = signal(false);
    Effect::new(move |_| set_hydrated.set(true));
    hydrated
}

/// How many times `action` has succeeded. A form's data keyed on this is
/// read again after a save, but not after a refused one: reading it again
/// would rebuild the form from what is stored and throw away what was typed,
/// leaving the errors beside values the user did not enter.
pub fn successes<S>(action: ServerAction<S>) -> ReadSignal<usize>
where
    S: leptos::server_fn::ServerFn + Send + Sync + Clone + 'static,
    S::Output: Send + Sync + 'static,
    S::Error: Send + Sync + 'static,
{
    let (count, set_count) = signal(0usize);
    // The value is set once per finished call, even to an equal one.
    Effect::new(move |_| {
        if action.value().with(|v| matches!(v, Some(Ok(_)))) {
            set_count.update(|n| *n += 1);
        }
    });
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hrefs_encode_and_skip_empty_values() {
        assert_eq!(href_with("/partners", &[("q", "".into())]), "/partners");
        assert_eq!(
            href_with("/partners", &[("q", "a b&c".into()), ("category", "CI/CD".into())]),
            "/partners?q=a%20b%26c&category=CI%2FCD"
        );
    }
}

/// The signed-in caller, loaded once per page by the app shell and shared
/// through context, so pages can show only the actions the caller may take.
/// (Showing is a courtesy: the server checks every action again.)
#[derive(Clone, Copy)]
pub struct CurrentCaller(pub Resource<Result<Option<crate::domain::access::Caller>, AppError>>);

/// Renders its children only when the signed-in caller may do `action`.
#[component]
pub fn Allowed(action: crate::domain::access::Action, children: ChildrenFn) -> impl IntoView {
    let me = use_context::<CurrentCaller>();
    let children = StoredValue::new(children);
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let allowed = match me {
                    Some(CurrentCaller(r)) => r.await.ok().flatten().is_some_and(|c| c.may(action)),
                    None => false,
                };
                allowed.then(|| children.with_value(|c| c()))
            })}
        </Suspense>
    }
}
