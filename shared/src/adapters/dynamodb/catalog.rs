//! Each connection's catalog: the postings of its last feed read. Ten thousand of them do not
//! fit one item (400 KB), so a catalog is written as a generation of chunks (`CAT#<gen>#<n>`,
//! JSON arrays) named by a head item (`CAT#head`: `generation`, `chunks`). The head is written
//! after every chunk of its generation and before the previous generation is deleted, so a
//! reader sees either the old catalog or the new one, never half of one.
use async_trait::async_trait;
use aws_sdk_dynamodb::types::ReturnValue;

use super::*;

/// The sort key of the item naming the current generation.
const HEAD: &str = "CAT#head";
/// Entries per chunk, at most.
const CHUNK_ENTRIES: usize = 1000;
/// JSON bytes per chunk, at most: long titles must not push a chunk past the 400 KB item limit
/// (which also counts the keys and attribute names).
const CHUNK_BYTES: usize = 300_000;
/// Reads of the catalog before giving up while puts keep replacing it mid-read.
const READ_ATTEMPTS: usize = 3;

/// What a head item names: the chunks `CAT#<generation>#0000` up to `chunks`, excluded.
struct Head {
    generation: String,
    chunks: usize,
}

fn chunk_sk(generation: &str, i: usize) -> String {
    format!("CAT#{generation}#{i:04}")
}

fn what(c: &ConnectionId) -> String {
    format!("catalog of connection {c}")
}

fn head_of(c: &ConnectionId, item: &Item) -> Result<Head, StoreError> {
    let chunks = get_n(item, "chunks").and_then(|n| usize::try_from(n).ok());
    match (get_s(item, "generation"), chunks) {
        (Some(g), Some(chunks)) => Ok(Head { generation: g.to_owned(), chunks }),
        _ => Err(StoreError::corrupt_because(what(c), "a head without generation or chunk count")),
    }
}

/// The entries as JSON arrays, in order, each within both bounds (an entry alone over the byte
/// bound still gets its chunk: DynamoDB then refuses it, the put fails whole).
fn chunk_docs(entries: &[CatalogEntry]) -> Vec<String> {
    let mut docs = Vec::new();
    let (mut doc, mut count) = (String::from("["), 0);
    for e in entries {
        let json = serde_json::to_string(e).expect("serialises");
        if count > 0 && (count == CHUNK_ENTRIES || doc.len() + json.len() + 2 > CHUNK_BYTES) {
            doc.push(']');
            docs.push(std::mem::replace(&mut doc, String::from("[")));
            count = 0;
        }
        if count > 0 {
            doc.push(',');
        }
        doc.push_str(&json);
        count += 1;
    }
    if count > 0 {
        doc.push(']');
        docs.push(doc);
    }
    docs
}

#[async_trait]
impl CatalogStore for DynamoStore {
    async fn put_catalog(&self, c: &ConnectionId, entries: &[CatalogEntry]) -> Result<(), StoreError> {
        let generation = crate::random::id128();
        let docs = chunk_docs(entries);
        if let Err(e) = self.put_chunks(c, &generation, &docs).await {
            // Nobody names this generation yet: remove what was written of it.
            self.delete_chunks(c, &Head { generation, chunks: docs.len() }).await;
            return Err(e);
        }
        // The switch, one write. It returns the head it replaced: of two puts at once, each
        // deletes exactly the generation it took the place of, so none is left behind. (A
        // failed head write is not cleaned up: it may have landed all the same.)
        let out = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", pk(c))
            .item("sk", s(HEAD))
            .item("generation", s(&generation))
            .item("chunks", n(docs.len()))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(unavailable("put_catalog"))?;
        match out.attributes.filter(|a| !a.is_empty()).map(|old| head_of(c, &old)) {
            Some(Ok(old)) => self.delete_chunks(c, &old).await,
            Some(Err(e)) => {
                tracing::warn!(connection = %c, error = %e, "the previous catalog's chunks were not deleted")
            }
            None => {}
        }
        Ok(())
    }

    async fn catalog(&self, c: &ConnectionId) -> Result<Vec<CatalogEntry>, StoreError> {
        for _ in 0..READ_ATTEMPTS {
            if let Some(entries) = self.read_catalog(c).await? {
                return Ok(entries);
            }
        }
        Err(StoreError::unavailable_because("catalog", format!("the {} kept changing while read", what(c))))
    }
}

impl DynamoStore {
    async fn put_chunks(&self, c: &ConnectionId, generation: &str, docs: &[String]) -> Result<(), StoreError> {
        for (i, doc) in docs.iter().enumerate() {
            self.client
                .put_item()
                .table_name(&self.table)
                .item("pk", pk(c))
                .item("sk", s(chunk_sk(generation, i)))
                .item("doc", s(doc))
                .send()
                .await
                .map_err(unavailable("put_catalog"))?;
        }
        Ok(())
    }

    /// The catalog the head names; `None` when one of its chunks is gone (a put replaced that
    /// generation and deleted it while this read was under way: read again).
    async fn read_catalog(&self, c: &ConnectionId) -> Result<Option<Vec<CatalogEntry>>, StoreError> {
        let Some(item) = self.get_consistent(c, HEAD.to_owned(), "catalog").await? else { return Ok(Some(Vec::new())) };
        let head = head_of(c, &item)?;
        let reads = (0..head.chunks).map(|i| self.get_consistent(c, chunk_sk(&head.generation, i), "catalog"));
        let chunks = futures::future::try_join_all(reads).await?;
        let mut out = Vec::new();
        for chunk in chunks {
            let Some(chunk) = chunk else { return Ok(None) };
            let doc = get_s(&chunk, "doc").unwrap_or("");
            let part: Vec<CatalogEntry> = serde_json::from_str(doc).map_err(|e| StoreError::corrupt(what(c), e))?;
            out.extend(part);
        }
        Ok(Some(out))
    }

    /// Best effort: a chunk left behind is never read (no head names it), only stored.
    async fn delete_chunks(&self, c: &ConnectionId, head: &Head) {
        for i in 0..head.chunks {
            let sk = chunk_sk(&head.generation, i);
            let res = self.client.delete_item().table_name(&self.table).key("pk", pk(c)).key("sk", s(&sk)).send().await;
            if let Err(e) = res {
                let e = crate::adapters::sdk_unavailable("put_catalog", e);
                tracing::warn!(connection = %c, sk = %sk, error = %e, "an old catalog chunk was not deleted");
            }
        }
    }
}
