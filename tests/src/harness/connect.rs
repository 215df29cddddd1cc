//! The connect flow as an admin's browser walks it (start, Lever's authorize step, callback),
//! on a `WebhookApp`.
use xor_lever_shared::domain::*;

use super::{WebhookApp, job_mapping};

impl WebhookApp {
    /// Another connection in the same store, `pending` (no Lever authorization yet), on `lever`.
    pub async fn add_pending_connection(&self, name: &str, lever: &crate::LeverSandbox) -> (ConnectionId, String) {
        use xor_lever_shared::domain::ports::{LEVER_TOKENS, WEBHOOK_SECRET};
        let id = ConnectionId::parse(&format!("{name}-{:06x}", fastrand::u32(..0xffffff))).unwrap();
        let mut conn =
            Connection::new(id.clone(), "http://127.0.0.1:9/feed.xml".into(), "http://127.0.0.1:9".into(), 0);
        conn.status = ConnectionStatus::Pending;
        conn.lever.api_base_url = Some(lever.api_base());
        conn.lever.auth_base_url = Some(lever.url.clone());
        self.setup.connections.create_connection(&conn).await.unwrap();
        let secret = xor_lever_shared::random::webhook_secret();
        self.setup.secrets.create_secret(&id, WEBHOOK_SECRET, Some(&SecretString::new(secret.clone()))).await.unwrap();
        self.setup.secrets.create_secret(&id, LEVER_TOKENS, None).await.unwrap();
        self.setup.secrets.create_secret(&id, xor_lever_shared::domain::ports::LEVER_WEBHOOKS, None).await.unwrap();
        let mapping = job_mapping(&id, &self.posting, &self.xor_job);
        self.setup.mappings.upsert_mapping(mapping, None).await.unwrap();
        lever.add_posting(&self.posting, "Senior Backend Engineer (Rust)", "published");
        (id, secret)
    }

    /// A fresh connect link for `id`, as `connections connect-url` mints it.
    pub async fn connect_link(&self, id: &ConnectionId) -> String {
        let (token, _) = xor_lever_shared::usecases::connect::invite(&self.setup, id, 7).await.unwrap();
        xor_lever_shared::usecases::connect::connect_link(&self.url, id, &token)
    }

    /// Follows the connect flow as the admin's browser does (a fresh invitation; the cookie kept;
    /// no automatic redirects): start → Lever → callback. Returns the callback's status and page.
    pub async fn connect(&self, id: &ConnectionId) -> (u16, String) {
        let flow = self.authorize(id).await;
        self.get_with_cookie(&flow.callback, &flow.cookie).await
    }

    /// Start and Lever's authorize step on a fresh invitation.
    pub async fn authorize(&self, id: &ConnectionId) -> Flow {
        let link = self.connect_link(id).await;
        self.authorize_with(&link).await
    }

    /// Start (with `link`) and Lever's authorize step: the callback URL Lever redirects to, the
    /// state, and the cookie the start set.
    pub async fn authorize_with(&self, link: &str) -> Flow {
        let (start, cookie) = self.get_redirect_with_cookie(link).await;
        let state = query_param(&start, "state").expect("a state");
        let callback = self.get_redirect(&start).await;
        Flow { callback, state, cookie: cookie.expect("the start sets the state cookie") }
    }

    pub async fn get_redirect(&self, url: &str) -> String {
        self.get_redirect_with_cookie(url).await.0
    }

    /// A 302's `Location`, and the `name=value` of the cookie it sets.
    pub async fn get_redirect_with_cookie(&self, url: &str) -> (String, Option<String>) {
        let c = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let r = c.get(url).send().await.unwrap();
        let status = r.status();
        let cookie = r.headers().get("set-cookie").map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned());
        let location = r.headers().get("location").map(|l| l.to_str().unwrap().to_owned());
        let Some(location) = location else {
            panic!("expected a redirect from {url}: {status} {}", r.text().await.unwrap());
        };
        assert_eq!(status.as_u16(), 302, "{url}");
        (location, cookie)
    }

    pub async fn get(&self, url: &str) -> (u16, String) {
        self.get_with_cookie(url, "").await
    }

    pub async fn get_with_cookie(&self, url: &str, cookie: &str) -> (u16, String) {
        let c = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let mut req = c.get(url);
        if !cookie.is_empty() {
            req = req.header("cookie", cookie);
        }
        let r = req.send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }
}

/// One connect flow up to Lever's redirect back.
#[derive(Debug, Clone)]
pub struct Flow {
    pub callback: String,
    pub state: String,
    /// `name=value` of the state cookie, as the starting browser holds it.
    pub cookie: String,
}

pub fn query_param(url: &str, name: &str) -> Option<String> {
    let q = url.split_once('?')?.1;
    q.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| {
            let mut out = Vec::new();
            let b = v.as_bytes();
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'%' && i + 2 < b.len() {
                    out.push(u8::from_str_radix(&v[i + 1..i + 3], 16).unwrap_or(b'?'));
                    i += 3;
                } else {
                    out.push(if b[i] == b'+' { b' ' } else { b[i] });
                    i += 1;
                }
            }
            String::from_utf8_lossy(&out).into_owned()
        })
    })
}
