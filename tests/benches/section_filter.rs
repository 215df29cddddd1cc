//! `cargo bench -p xor-lever-sandbox --bench section_filter`: the Lever section's "Which jobs
//! go to XOR" for a feed of 10,000 postings (issue 26): the page (its catalog read, a verdict
//! per posting, the values of the lists, one page of 50 rendered), a search, and a preview of a
//! rule change (the sync's own plan over every posting), over loopback HTTP on the embedded
//! store; p50/p99 of 20 requests each, and the page's size.
use std::time::Instant;

use xor_lever_sandbox::harness::{StoreKind, spawn_webhook_app};
use xor_lever_sandbox::percentile;
use xor_lever_sandbox::visitor::Visitor;
use xor_lever_shared::domain::CatalogEntry;

const N: usize = 10_000;
const RUNS: usize = 20;

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let app = spawn_webhook_app(StoreKind::Sqlite).await;
        let teams = ["Field Ops", "Finance", "Engineering", "People", "Sales, EMEA"];
        let cities = ["Berlin", "São Paulo", "Austin", "München", "Zürich", "Lyon", "Remote"];
        let catalog: Vec<CatalogEntry> = (0..N)
            .map(|i| CatalogEntry {
                id: format!("00000000-0000-4000-8000-{i:012}"),
                title: format!("Warehouse Associate {i} (night shift, forklift certified)"),
                team: Some(teams[i % teams.len()].into()),
                department: Some("Operations".into()),
                city: Some(cities[i % cities.len()].into()),
                country: Some("DE".into()),
                workplace: Some("onsite".into()),
                commitment: Some("Full-time".into()),
            })
            .collect();
        app.setup.catalogs.put_catalog(&app.id, &catalog).await.unwrap();
        let link =
            xor_lever_shared::usecases::section::access::page_link(&app.setup, &app.url, &app.id, 7).await.unwrap();
        let v = Visitor::new();
        let first = v.follow(&link).await.unwrap();
        let page_url = format!("{}/connections/{}", app.url, app.id);
        let csrf = first.csrf().unwrap();
        let mut size = 0;
        let time = |label: &str, mut samples: Vec<f64>| {
            samples.sort_by(f64::total_cmp);
            println!(
                "section  {N} postings  {label:<34} p50 {:>7.1} ms  p99 {:>7.1} ms",
                percentile(&samples, 0.5),
                percentile(&samples, 0.99)
            );
        };
        let mut page = Vec::new();
        for _ in 0..RUNS {
            let t = Instant::now();
            let p = v.get(&page_url).await.unwrap();
            page.push(t.elapsed().as_secs_f64() * 1000.0);
            assert!(p.body.contains(&format!("{N} of {N} postings")), "the page lists them");
            size = p.body.len();
        }
        time("the page (page 1 of 200)", page);
        let mut search = Vec::new();
        for _ in 0..RUNS {
            let t = Instant::now();
            let p = v.get(&format!("{page_url}?pq=associate%20999&pp=1")).await.unwrap();
            search.push(t.elapsed().as_secs_f64() * 1000.0);
            assert!(p.body.contains("Warehouse Associate 999 "), "found");
        }
        time("a search", search);
        let mut preview = Vec::new();
        for _ in 0..RUNS {
            let t = Instant::now();
            let form = [
                ("csrf", csrf.as_str()),
                ("action", "preview"),
                ("exclude_team", "Finance"),
                ("include_city", "São Paulo"),
            ];
            let p = v.post(&format!("{page_url}/filter"), &app.url, &form).await.unwrap();
            preview.push(t.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(p.status, 200, "{}", p.body);
        }
        time("a preview (the plan over all)", preview);
        println!("section  {N} postings  the page's HTML: {:.0} KB", size as f64 / 1024.0);
    });
}
