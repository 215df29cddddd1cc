//! A browser without the browser, for `xor-lever dev` and the tests of the Lever section: keeps
//! the cookies every answer sets, per host as a browser does (a port does not count, RFC 6265
//! §8.5), sends them back to that host only, never follows a redirect by itself (each step
//! of a flow can be checked), and posts the section's forms with their CSRF field.
use std::sync::Mutex;

pub struct Visitor {
    http: reqwest::Client,
    /// (host, name, value).
    jar: Mutex<Vec<(String, String, String)>>,
}

/// One answer, as the visitor saw it.
pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub set_cookie: Vec<String>,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
    /// The URL that answered.
    pub url: String,
}

impl Page {
    /// The CSRF field of the page's forms.
    pub fn csrf(&self) -> Option<String> {
        self.body.split("name=\"csrf\" value=\"").nth(1).and_then(|s| s.split('"').next()).map(str::to_owned)
    }

    /// The section's status (`data-status` of `#status`), or "?".
    pub fn section_status(&self) -> &str {
        self.body.split("data-status=\"").nth(1).and_then(|s| s.split('"').next()).unwrap_or("?")
    }
}

/// `location` made absolute against `from` (a path keeps `from`'s scheme and host).
fn absolute(from: &str, location: &str) -> String {
    if !location.starts_with('/') {
        return location.to_owned();
    }
    let after = from.find("://").map_or(0, |i| i + 3);
    let end = from[after..].find('/').map_or(from.len(), |i| after + i);
    format!("{}{location}", &from[..end])
}

/// The host of an absolute URL, without its port.
fn host_of(url: &str) -> String {
    reqwest::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_ascii_lowercase)).unwrap_or_default()
}

impl Default for Visitor {
    fn default() -> Self {
        Self::new()
    }
}

impl Visitor {
    pub fn new() -> Self {
        Self {
            http: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("a client"),
            jar: Mutex::default(),
        }
    }

    fn cookie(&self, url: &str) -> String {
        let host = host_of(url);
        let jar = self.jar.lock().unwrap();
        jar.iter().filter(|(h, _, _)| *h == host).map(|(_, k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    async fn send(&self, url: &str, r: reqwest::RequestBuilder) -> reqwest::Result<Page> {
        let r = r.header(reqwest::header::COOKIE, self.cookie(url)).send().await?;
        let set_cookie: Vec<String> = r
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_owned)
            .collect();
        for c in &set_cookie {
            if let Some((k, v)) = c.split(';').next().and_then(|kv| kv.split_once('=')) {
                let host = host_of(url);
                let mut jar = self.jar.lock().unwrap();
                jar.retain(|(h, n, _)| !(*h == host && n == k));
                jar.push((host, k.into(), v.into()));
            }
        }
        let location =
            r.headers().get(reqwest::header::LOCATION).and_then(|l| l.to_str().ok()).map(|l| absolute(url, l));
        Ok(Page {
            status: r.status().as_u16(),
            location,
            set_cookie,
            headers: r.headers().clone(),
            body: r.text().await?,
            url: url.to_owned(),
        })
    }

    /// One GET.
    pub async fn get(&self, url: &str) -> reqwest::Result<Page> {
        self.send(url, self.http.get(url)).await
    }

    /// One form POST, saying it comes from `origin`.
    pub async fn post(&self, url: &str, origin: &str, form: &[(&str, &str)]) -> reqwest::Result<Page> {
        self.send(url, self.http.post(url).header(reqwest::header::ORIGIN, origin).form(form)).await
    }

    /// GET, then the redirects it leads to (at most 10).
    pub async fn follow(&self, url: &str) -> reqwest::Result<Page> {
        let mut page = self.get(url).await?;
        for _ in 0..10 {
            match page.location.clone() {
                Some(next) => page = self.get(&next).await?,
                None => break,
            }
        }
        Ok(page)
    }

    /// Posts `page`'s form at `action` (a path on `page`'s origin) with its CSRF field and
    /// `fields`, from that origin, and follows where it leads.
    pub async fn submit(&self, page: &Page, action: &str, fields: &[(&str, &str)]) -> Result<Page, String> {
        let csrf = page.csrf().ok_or("the page has no form")?;
        let url = absolute(&page.url, action);
        let origin = absolute(&page.url, "/").trim_end_matches('/').to_owned();
        let mut form = vec![("csrf", csrf.as_str())];
        form.extend_from_slice(fields);
        let answer = self.post(&url, &origin, &form).await.map_err(|e| e.to_string())?;
        match answer.location.clone() {
            Some(next) => self.follow(&next).await.map_err(|e| e.to_string()),
            None => Err(format!("the form answered HTTP {}: {}", answer.status, answer.body)),
        }
    }
}
