//! The Lever sandbox itself, one test per documented behaviour it follows (each names its
//! section of Lever's Data API reference, hire.lever.co/developer/documentation, or of its OAuth
//! page). Where Lever is silent, the sandbox is as silent: an unknown key or part is ignored.
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use xor_lever_sandbox::LeverSandbox;
use xor_lever_sandbox::lever::{
    ADMIN_USER, AUDIENCES, CLIENT_ID, DEFAULT_STAGE, Fault, OTHER_ADMIN, POSTING_OWNER, SANDBOX_ACCOUNT, SEEDED_TEAM,
};

const POSTING: &str = "5f1c2a7e-3b44-4c1e-9a0d-6f6b7d1e2a10";

struct Lever {
    s: LeverSandbox,
    token: String,
    http: reqwest::Client,
}

async fn lever() -> Lever {
    let s = LeverSandbox::spawn().await;
    s.add_posting(POSTING, "Backend Engineer", "published");
    let (token, _, _) = s.issue_tokens();
    Lever { s, token, http: reqwest::Client::new() }
}

impl Lever {
    async fn get(&self, path: &str) -> (u16, Value) {
        let r = self.http.get(format!("{}/v1{path}", self.s.url)).bearer_auth(&self.token).send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }
    async fn create(&self, query: &str, form: Form) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}/v1/opportunities?{query}", self.s.url))
            .bearer_auth(&self.token)
            .multipart(form)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }
}

fn person(name: &str, email: &str) -> Form {
    Form::new()
        .text("name", name.to_owned())
        .text("emails[]", email.to_owned())
        .text("sources[]", "XOR")
        .text("postings[]", POSTING)
}

fn pdf(name: &str) -> Part {
    Part::bytes(b"%PDF-1.4".to_vec()).file_name(name.to_owned()).mime_str("application/pdf").unwrap()
}

/// "Create an opportunity": one file goes under `files`, several under `files[]` ("If uploading
/// multiple files ... use files[] as the field name"), the resume under `resumeFile`; any other
/// part name is an unknown key, ignored.
#[tokio::test]
async fn create_an_opportunity_reads_files_and_resume_file_only() {
    let l = lever().await;
    let form = person("Ada", "ada@x.io")
        .part("files[]", pdf("report.pdf"))
        .part("files[]", pdf("notes.pdf"))
        .part("resumeFile", pdf("cv.pdf"))
        .part("files[0]", pdf("ignored.pdf"))
        .part("file", pdf("also-ignored.pdf"));
    let (st, v) = l.create(&format!("perform_as={ADMIN_USER}"), form).await;
    assert_eq!(st, 201, "{v}");
    let one = person("Bo", "bo@x.io").part("files", pdf("one.pdf"));
    assert_eq!(l.create(&format!("perform_as={ADMIN_USER}"), one).await.0, 201);
    let o = &l.s.opportunities();
    assert_eq!(o[0].files.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), ["report.pdf", "notes.pdf"]);
    assert_eq!(o[0].resumes.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), ["cv.pdf"]);
    assert_eq!(
        o[1].files.iter().map(|f| (f.field.as_str(), f.name.as_str())).collect::<Vec<_>>(),
        [("files", "one.pdf")]
    );
}

/// "Supported File Formats" (docx, doc, js, jpg, png, pdf, txt): a `resumeFile` of another type
/// is refused, the whole create with it.
#[tokio::test]
async fn a_resume_file_of_an_unlisted_type_is_refused() {
    let l = lever().await;
    let rtf = Part::bytes(b"{\\rtf1 cv}".to_vec()).file_name("cv.rtf").mime_str("application/rtf").unwrap();
    let (st, v) =
        l.create(&format!("perform_as={ADMIN_USER}"), person("Ada", "ada@x.io").part("resumeFile", rtf)).await;
    assert_eq!(st, 400, "{v}");
    for listed in ["cv.pdf", "cv.docx", "cv.doc", "cv.txt", "cv.png", "cv.jpg"] {
        let (st, v) = l
            .create(&format!("perform_as={ADMIN_USER}"), person("Ada", "ada@x.io").part("resumeFile", pdf(listed)))
            .await;
        assert_eq!(st, 201, "{listed}: {v}");
    }
    assert_eq!(l.s.opportunities().len(), 6);
}

/// "Create an opportunity": phones are objects (`[{"type": "mobile", "value": ...}]` in JSON; in
/// a form, the reference's nested-field syntax `phones[0][value]`); a bare string is no phone.
#[tokio::test]
async fn phones_are_objects_in_json_and_nested_fields_in_a_form() {
    let l = lever().await;
    let form = person("Ada", "ada@x.io").text("phones[0][type]", "mobile").text("phones[0][value]", "+44 20 7946 0001");
    assert_eq!(l.create(&format!("perform_as={ADMIN_USER}"), form).await.0, 201);
    let r = l
        .http
        .post(format!("{}/v1/opportunities?perform_as={ADMIN_USER}", l.s.url))
        .bearer_auth(&l.token)
        .json(&json!({"name": "Bo", "emails": ["bo@x.io"], "phones": [{"type": "mobile", "value": "+1 415 555 0100"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let bare = person("Cy", "cy@x.io").text("phones[]", "+44 20 7946 0002");
    assert_eq!(l.create(&format!("perform_as={ADMIN_USER}"), bare).await.0, 400, "a bare string is not a phone");
    let o = l.s.opportunities();
    assert_eq!(
        (o[0].phones[0]["value"].as_str(), o[0].phones[0]["type"].as_str()),
        (Some("+44 20 7946 0001"), Some("mobile"))
    );
    assert_eq!(o[1].phones[0]["value"], "+1 415 555 0100");
}

/// "Confidential Data": lists leave confidential postings and opportunities out unless asked
/// (`confidentiality=all`), and a token without `confidential:access:admin` asking for them, or
/// reading a confidential posting, gets an access error.
#[tokio::test]
async fn confidential_data_is_listed_only_when_asked_and_granted() {
    let l = lever().await;
    let secret = "0c0c0c0c-3b44-4c1e-9a0d-6f6b7d1e2a10";
    let seed = json!([{"id": secret, "text": "VP Finance", "confidentiality": "confidential", "owner": POSTING_OWNER}]);
    l.http.post(format!("{}/_sandbox/postings", l.s.url)).json(&seed).send().await.unwrap();
    let on = |posting: &str, name: &str| {
        Form::new()
            .text("name", name.to_owned())
            .text("emails[]", format!("{name}@x.io"))
            .text("postings[]", posting.to_owned())
    };
    assert_eq!(l.create(&format!("perform_as={ADMIN_USER}"), on(secret, "ada")).await.0, 201);
    assert_eq!(l.create(&format!("perform_as={ADMIN_USER}"), on(POSTING, "bo")).await.0, 201);
    assert_eq!(l.get("/opportunities").await.1["data"].as_array().unwrap().len(), 1, "non-confidential by default");
    let all = l.get("/opportunities?confidentiality=all").await.1;
    assert_eq!(all["data"].as_array().unwrap().len(), 2, "{all}");
    assert_eq!(all["data"][0]["confidentiality"], "confidential");
    assert_eq!(l.get(&format!("/postings/{secret}")).await.0, 200);

    // An authorization without the confidential scope.
    let (narrow, _, _) = l.s.issue_tokens_with("offline_access opportunities:read:admin postings:read:admin");
    let narrow = Lever { s: l.s, token: narrow, http: l.http };
    assert_eq!(narrow.get("/opportunities").await.0, 200);
    assert_eq!(narrow.get("/opportunities?confidentiality=all").await.0, 403);
    assert_eq!(narrow.get(&format!("/postings/{secret}")).await.0, 403);
}

/// "Authentication": "Refresh tokens will expire after one year": the sandbox expires a refresh
/// token by the age of its authorization, through every rotation.
#[tokio::test]
async fn refresh_tokens_expire_by_the_age_of_their_authorization() {
    let l = lever().await;
    l.s.set_config(xor_lever_sandbox::lever::Config { refresh_ttl_secs: 1, ..Default::default() });
    let (_, rt, _) = l.s.issue_tokens();
    let refresh = |rt: String| {
        let (http, url) = (l.http.clone(), l.s.url.clone());
        async move {
            let r = http
                .post(format!("{url}/oauth/token"))
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("client_id", CLIENT_ID),
                    ("client_secret", xor_lever_sandbox::lever::CLIENT_SECRET),
                    ("refresh_token", &rt),
                ])
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (st, v) = refresh(rt).await;
    assert_eq!(st, 200, "{v}");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (st, v) = refresh(v["refresh_token"].as_str().unwrap().to_owned()).await;
    assert_eq!((st, v["error"].as_str()), (403, Some("invalid_grant")), "the rotated token keeps its family's age");
}

/// "Create an opportunity": `perform_as` is required on writes (and is a user of the account).
#[tokio::test]
async fn writes_require_perform_as() {
    let l = lever().await;
    assert_eq!(l.create("", person("Ada", "ada@x.io")).await.0, 400);
    assert_eq!(l.create("perform_as=usr_nobody", person("Ada", "ada@x.io")).await.0, 400);
    let (_, v) = l.create(&format!("perform_as={ADMIN_USER}"), person("Ada", "ada@x.io")).await;
    let id = v["data"]["id"].as_str().unwrap();
    let note = |q: &str| {
        l.http
            .post(format!("{}/v1/opportunities/{id}/notes{q}", l.s.url))
            .bearer_auth(&l.token)
            .json(&json!({"value": "hello"}))
            .send()
    };
    assert_eq!(note("").await.unwrap().status().as_u16(), 400);
    assert_eq!(note(&format!("?perform_as={ADMIN_USER}")).await.unwrap().status().as_u16(), 201);
}

/// "Opportunities": `applications` lists application ids; `expand=applications` shows each
/// application with its `posting`.
#[tokio::test]
async fn applications_are_ids_unless_expanded() {
    let l = lever().await;
    let (_, v) = l.create(&format!("perform_as={ADMIN_USER}"), person("Ada", "ada@x.io")).await;
    let app = &v["data"]["applications"][0];
    assert!(app.is_string() && app.as_str() != Some(POSTING), "an application id: {app}");
    let (_, v) = l.get("/opportunities?email=ada@x.io").await;
    assert!(v["data"][0]["applications"][0].is_string());
    let (_, v) = l.get("/opportunities?email=ada@x.io&expand=applications").await;
    assert_eq!(v["data"][0]["applications"][0]["posting"], POSTING);
}

/// "List all opportunities": `email`, `posting_id`, `source`, `tag` (case-sensitive),
/// `created_at_start`, `contact_id`.
#[tokio::test]
async fn list_filters_work_as_documented() {
    let l = lever().await;
    let (_, a) = l.create(&format!("perform_as={ADMIN_USER}"), person("Ada", "ada@x.io").text("tags[]", "xor")).await;
    let contact = a["data"]["contact"].as_str().unwrap().to_owned();
    let t0 = a["data"]["createdAt"].as_u64().unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let other = Form::new().text("name", "Bo").text("emails[]", "bo@x.io").text("sources[]", "Referral");
    l.create(&format!("perform_as={ADMIN_USER}"), other).await;
    let l = &l;
    let count =
        |q: String| async move { l.get(&format!("/opportunities?{q}")).await.1["data"].as_array().unwrap().len() };
    assert_eq!(count("email=ADA@x.io".into()).await, 1);
    assert_eq!(count(format!("posting_id={POSTING}")).await, 1);
    assert_eq!(count("source=XOR".into()).await, 1);
    assert_eq!(count("source=Referral&source=XOR".into()).await, 2);
    assert_eq!((count("tag=xor".into()).await, count("tag=XOR".into()).await), (1, 0), "tags are case-sensitive");
    assert_eq!(count(format!("created_at_start={}", t0 + 1)).await, 1);
    assert_eq!(count(format!("contact_id={contact}")).await, 1);
}

/// "Create an opportunity": people are deduplicated by email; the known contact's data wins.
#[tokio::test]
async fn an_email_dedupe_keeps_the_known_contacts_data() {
    let l = lever().await;
    let first = person("Ada Lovelace", "ada@x.io").text("headline", "Analytical Engines Ltd");
    l.create(&format!("perform_as={ADMIN_USER}"), first).await;
    let again = person("A. L.", "ADA@x.io").text("headline", "Passed XOR screening (87/100)");
    let (_, v) = l.create(&format!("perform_as={ADMIN_USER}"), again).await;
    let o = &l.s.opportunities()[1];
    assert_eq!(v["data"]["contact"], l.s.opportunities()[0].contact.as_str());
    assert_eq!((o.name.as_str(), o.headline.as_deref()), ("Ada Lovelace", Some("Analytical Engines Ltd")));
}

/// "Create an opportunity": `perform_as_posting_owner=true` makes the posting's owner the
/// owner; otherwise the `perform_as` user is. "The Opportunity creator will always be added as a
/// follower": the `perform_as` user follows either way, and `followers[]` adds others. New
/// opportunities start in the account's first stage unless `stage` says otherwise.
#[tokio::test]
async fn the_owner_is_the_posting_owner_when_asked() {
    let l = lever().await;
    l.create(&format!("perform_as={ADMIN_USER}"), person("Ada", "ada@x.io")).await;
    l.create(
        &format!("perform_as={ADMIN_USER}&perform_as_posting_owner=true"),
        person("Bo", "bo@x.io").text("stage", "s2").text("followers[]", OTHER_ADMIN),
    )
    .await;
    let o = l.s.opportunities();
    assert_eq!(
        (o[0].owner.as_str(), o[0].followers.as_slice(), o[0].stage.as_str()),
        (ADMIN_USER, &[ADMIN_USER.to_owned()][..], DEFAULT_STAGE)
    );
    assert_eq!(
        (o[1].owner.as_str(), o[1].followers.as_slice(), o[1].stage.as_str()),
        (POSTING_OWNER, &[ADMIN_USER.to_owned(), OTHER_ADMIN.to_owned()][..], "s2")
    );
}

/// "Users": paginated (`limit`, `offset` = the previous page's `next`, `hasNext`), filtered by
/// `accessRole`; "Retrieve a single user". The seeded account has more than a page of users and
/// two Super Admins, past the first page.
#[tokio::test]
async fn users_are_paginated_and_filtered_by_role() {
    let l = lever().await;
    let (_, p1) = l.get("/users").await;
    assert_eq!(p1["data"].as_array().unwrap().len(), 100);
    assert_eq!(p1["hasNext"], true);
    assert!(p1["data"].as_array().unwrap().iter().all(|u| u["accessRole"] != "super admin"), "none on page 1");
    let (_, p2) = l.get(&format!("/users?offset={}", p1["next"].as_str().unwrap())).await;
    assert_eq!(p2["hasNext"], false);
    assert_eq!(100 + p2["data"].as_array().unwrap().len(), SEEDED_TEAM + 3);
    let (_, admins) = l.get("/users?accessRole=super%20admin").await;
    let ids: Vec<&str> = admins["data"].as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [ADMIN_USER, OTHER_ADMIN]);
    assert_eq!(l.get(&format!("/users/{OTHER_ADMIN}")).await.1["data"]["accessRole"], "super admin");
    assert_eq!(l.get("/users/usr_nobody").await.0, 404);
    assert_eq!(l.get("/users?offset=made-up").await.0, 400, "offsets are tokens Lever issued");
}

/// OAuth "Authorize": `state` and `audience` (Lever's API, with its trailing slash) are required.
#[tokio::test]
async fn authorize_requires_state_and_a_lever_audience() {
    let l = lever().await;
    let c = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let go = |q: String| {
        let (c, url) = (c.clone(), l.s.url.clone());
        async move {
            c.get(format!("{url}/authorize?client_id={CLIENT_ID}&response_type=code&redirect_uri=http://cb/{q}"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(go(format!("&state=s&audience={}", AUDIENCES[0])).await, 302);
    assert_eq!(go(format!("&audience={}", AUDIENCES[0])).await, 400, "no state");
    assert_eq!(go("&state=s".into()).await, 400, "no audience");
    assert_eq!(go(format!("&state=s&audience={}/v1/", l.s.url)).await, 400, "a proxy is not Lever's API");
}

/// OAuth: the access token is a JWT like the docs' example, naming the account and the user.
#[tokio::test]
async fn access_tokens_are_jwts_naming_account_and_user() {
    let l = lever().await;
    let who = xor_lever_shared::adapters::lever::identity_of(&l.token);
    assert_eq!((who.account_id.as_deref(), who.user_id.as_deref()), (Some(SANDBOX_ACCOUNT), Some(ADMIN_USER)));
}

/// "Rate limits": 429 beyond the budget; the docs do not promise `Retry-After`, so it comes both
/// with and without one.
#[tokio::test]
async fn too_many_requests_come_with_and_without_retry_after() {
    let l = lever().await;
    l.s.inject([
        Fault { status: Some(429), retry_after: Some(2), op: Some("users".into()), ..Default::default() },
        Fault { status: Some(429), op: Some("users".into()), ..Default::default() },
    ]);
    let r1 = l.http.get(format!("{}/v1/users", l.s.url)).bearer_auth(&l.token).send().await.unwrap();
    let r2 = l.http.get(format!("{}/v1/users", l.s.url)).bearer_auth(&l.token).send().await.unwrap();
    assert_eq!((r1.status().as_u16(), r2.status().as_u16()), (429, 429));
    assert_eq!(r1.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned()).as_deref(), Some("2"));
    assert!(r2.headers().get("retry-after").is_none());
}

/// "Notes" and "Upload a file": a note's `value`; a file under `file`.
#[tokio::test]
async fn notes_and_files_on_an_opportunity() {
    let l = lever().await;
    let (_, v) = l.create(&format!("perform_as={ADMIN_USER}"), person("Ada", "ada@x.io")).await;
    let id = v["data"]["id"].as_str().unwrap();
    let r = l
        .http
        .post(format!("{}/v1/opportunities/{id}/notes?perform_as={ADMIN_USER}", l.s.url))
        .bearer_auth(&l.token)
        .json(&json!({"value": "Screening passed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let (_, notes) = l.get(&format!("/opportunities/{id}/notes")).await;
    assert_eq!(notes["data"][0]["fields"][0]["value"], "Screening passed");
    let form = Form::new().part("file", pdf("extra.pdf")).part("files[]", pdf("not-here.pdf"));
    let r = l
        .http
        .post(format!("{}/v1/opportunities/{id}/files?perform_as={ADMIN_USER}", l.s.url))
        .bearer_auth(&l.token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(l.s.opportunities()[0].files.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), ["extra.pdf"]);
}

/// "Create an opportunity" (`sources`): an existing source is reused, as the account spells it.
#[tokio::test]
async fn an_existing_source_is_reused() {
    let l = lever().await;
    l.s.add_source("xor");
    l.create(&format!("perform_as={ADMIN_USER}"), person("Ada", "ada@x.io")).await;
    assert_eq!(l.s.opportunities()[0].sources, ["xor"]);
}

/// "Scopes": each endpoint needs its scope; a token granted fewer is refused.
#[tokio::test]
async fn each_endpoint_needs_its_scope() {
    let l = lever().await;
    // An authorization that asked for users only.
    let c = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = c
        .get(format!(
            "{}/authorize?client_id={CLIENT_ID}&response_type=code&redirect_uri=http://cb/&state=s&audience={}&scope=users:read:admin",
            l.s.url, AUDIENCES[0]
        ))
        .send()
        .await
        .unwrap();
    let loc = r.headers()["location"].to_str().unwrap().to_owned();
    let code = loc.split("code=").nth(1).unwrap().split('&').next().unwrap().to_owned();
    let t: Value = c
        .post(format!("{}/oauth/token", l.s.url))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT_ID),
            ("client_secret", xor_lever_sandbox::lever::CLIENT_SECRET),
            ("redirect_uri", "http://cb/"),
            ("code", &code),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let narrow = Lever { s: l.s, token: t["access_token"].as_str().unwrap().to_owned(), http: l.http };
    assert_eq!(narrow.get("/users").await.0, 200);
    assert_eq!(narrow.get("/opportunities").await.0, 403);
    assert_eq!(narrow.create(&format!("perform_as={ADMIN_USER}"), person("Ada", "ada@x.io")).await.0, 403);
}

/// "Webhooks via the API" and "Securing webhooks": the app registers one webhook per event and
/// gets its signature token; only HTTPS URLs (loopback stands for it here); no conditions on
/// `candidateDeleted`; nothing is sent until the Super Admin switches the group on; a delivery
/// is signed over `token` and `triggeredAt`, retried five more times on a non-2xx, and a
/// duplicate carries the same token.
#[tokio::test]
async fn webhooks_are_registered_switched_on_signed_and_retried_as_documented() {
    use std::sync::{Arc, Mutex};
    use xor_lever_shared::domain::SecretString;
    use xor_lever_shared::domain::ats::lever_webhook::LeverDelivery;
    let l = lever().await;
    // A receiver: answers 500 to its first two requests, then 200; keeps every body.
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    let seen = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(v): axum::Json<Value>| {
            let seen = seen.clone();
            async move {
                let n = {
                    let mut g = seen.lock().unwrap();
                    g.push(v);
                    g.len()
                };
                if n <= 2 { axum::http::StatusCode::INTERNAL_SERVER_ERROR } else { axum::http::StatusCode::OK }
            }
        }),
    );
    let served = xor_lever_sandbox::serve("127.0.0.1:0", app).await.unwrap();
    let post = |body: Value| {
        let (http, url, token) = (l.http.clone(), format!("{}/v1/webhooks", l.s.url), l.token.clone());
        async move {
            let r = http.post(url).bearer_auth(token).json(&body).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let hook = format!("{}/hook", served.url);
    let (st, created) = post(json!({"url": hook, "event": "candidateStageChange"})).await;
    assert_eq!(st, 201, "{created}");
    let signature_token = created["data"]["signatureToken"].as_str().expect("the signature token").to_owned();
    let (st, _) = post(json!({"url": "http://hooks.example.com/x", "event": "candidateHired"})).await;
    assert_eq!(st, 400, "https only");
    let conditions = json!({"origins": ["sourced"]});
    let (st, _) =
        post(json!({"url": hook, "event": "candidateDeleted", "configuration": {"conditions": conditions}})).await;
    assert_eq!(st, 400, "no conditions for candidateDeleted");
    let (st, listed) = l.get("/webhooks").await;
    assert_eq!((st, listed["data"].as_array().map(Vec::len)), (200, Some(1)), "{listed}");

    let happen = |copies: u32| {
        let (http, url) = (l.http.clone(), format!("{}/_sandbox/events", l.s.url));
        async move {
            let body = json!({"event": "candidateStageChange", "data": {"opportunityId": "opp_1", "toStageId": "s2"}, "copies": copies});
            http.post(url).json(&body).send().await.unwrap().json::<Value>().await.unwrap()
        }
    };
    let off = happen(1).await;
    assert_eq!(off["sent"].as_array().map(Vec::len), Some(0), "switched off: nothing sent {off}");
    assert!(got.lock().unwrap().is_empty());
    l.http.post(format!("{}/_sandbox/webhooks/enabled", l.s.url)).json(&json!({"enabled": true})).send().await.unwrap();
    let on = happen(2).await;
    let statuses: Vec<u64> = on["sent"].as_array().unwrap().iter().map(|s| s["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, [500, 500, 200, 200], "retried until 2xx, then the duplicate");
    let bodies = got.lock().unwrap().clone();
    let key = SecretString::new(signature_token);
    let now = xor_lever_shared::usecases::now_ms();
    for b in &bodies {
        let d = LeverDelivery::parse(&serde_json::to_vec(b).unwrap()).unwrap();
        assert_eq!(d.check(std::slice::from_ref(&key), now), Ok(()), "{b}");
        assert_eq!(d.token.len(), 48);
        assert_eq!(d.token, bodies[0]["token"].as_str().unwrap(), "retries and duplicates carry the same token");
    }
    let id = created["data"]["id"].as_str().unwrap();
    let r = l.http.delete(format!("{}/v1/webhooks/{id}", l.s.url)).bearer_auth(&l.token).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert_eq!(l.get("/webhooks").await.1["data"].as_array().map(Vec::len), Some(0));
}
