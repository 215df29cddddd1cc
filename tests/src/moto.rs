//! moto's server stands in for DynamoDB and Secrets Manager. The test script
//! (`infra/scripts/test`) starts it and exports `AWS_ENDPOINT_URL`; the real AWS SDK talks to it.
use xor_lever_shared::adapters::dynamodb::DynamoStore;
use xor_lever_shared::adapters::secrets_manager::SecretsManagerStore;

/// The moto endpoint, or a panic that says how to get one.
pub fn endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| {
        panic!("AWS_ENDPOINT_URL is not set: run the tests with infra/scripts/test (it starts moto), or start `moto_server -p 5000` and export AWS_ENDPOINT_URL=http://127.0.0.1:5000 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1")
    })
}

/// A fresh table (unique name) in moto, created as the template declares it.
pub async fn dynamo_store() -> DynamoStore {
    endpoint();
    let sdk = xor_lever_shared::config::aws_sdk_config().await;
    let store = DynamoStore::new(
        xor_lever_shared::config::dynamo_client(&sdk),
        format!("xor-lever-test-{:016x}", fastrand::u64(..)),
    );
    store.create_table().await.expect("create table in moto");
    store
}

/// `dynamo_store` with a patient client, for a test that reads pages of a megabyte: moto takes
/// seconds to serialise one on a loaded 2-core machine, past the production client's 2 s
/// attempt timeout (DynamoDB answers such a page in milliseconds). The production timeouts are
/// tested by `tests/tests/outages.rs`.
pub async fn dynamo_store_patient() -> DynamoStore {
    endpoint();
    let sdk = xor_lever_shared::config::aws_sdk_config().await;
    let timeouts =
        aws_config::timeout::TimeoutConfig::builder().operation_timeout(std::time::Duration::from_secs(60)).build();
    let conf = aws_sdk_dynamodb::config::Builder::from(&sdk).timeout_config(timeouts).build();
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::from_conf(conf),
        format!("xor-lever-test-{:016x}", fastrand::u64(..)),
    );
    store.create_table().await.expect("create table in moto");
    store
}

/// A Secrets Manager store under a unique prefix in moto.
pub async fn secrets_store() -> SecretsManagerStore {
    endpoint();
    let sdk = xor_lever_shared::config::aws_sdk_config().await;
    SecretsManagerStore::new(
        xor_lever_shared::config::secrets_client(&sdk),
        format!("xor-lever-test-{:08x}/", fastrand::u32(..)),
    )
}

/// Who calls the IAM-enforcing moto (`infra/scripts/moto-iam-start`): the test's admin (setup),
/// or a function's IAM user holding exactly the actions of its policies in template.yaml.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    Admin,
    /// The scheduled dispatcher (FeedSyncFunction).
    FeedSync,
    SyncWorker,
    Webhook,
    /// The operator's CLI, with infra/iam/operator.json's actions.
    Operator,
}

impl Principal {
    fn var_prefix(self) -> &'static str {
        match self {
            Self::Admin => "IAM_ADMIN",
            Self::FeedSync => "IAM_FEED_SYNC",
            Self::SyncWorker => "IAM_SYNC_WORKER",
            Self::Webhook => "IAM_WEBHOOK",
            Self::Operator => "IAM_OPERATOR",
        }
    }

    /// (access key id, secret access key).
    pub fn keys(self) -> (String, String) {
        let p = self.var_prefix();
        (iam_var(&format!("{p}_ACCESS_KEY_ID")), iam_var(&format!("{p}_SECRET_ACCESS_KEY")))
    }
}

fn iam_var(k: &str) -> String {
    std::env::var(k).unwrap_or_else(|_| {
        panic!("{k} is not set: run the tests with infra/scripts/test (it starts the IAM-enforcing moto too)")
    })
}

/// The IAM-enforcing moto's endpoint.
pub fn iam_endpoint() -> String {
    iam_var("IAM_AWS_ENDPOINT_URL")
}

/// An SDK configuration for the IAM-enforcing moto, as `principal`.
pub async fn sdk_as(principal: Principal) -> aws_config::SdkConfig {
    let (id, secret) = principal.keys();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(iam_endpoint())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(id, secret, None, None, "moto-iam"))
        .load()
        .await
}

/// A table and a secret prefix on the IAM-enforcing moto: created by the admin, opened as
/// `principal`. Returns (the admin's stores, the principal's stores).
pub async fn enforced_stores(
    principal: Principal,
) -> ((DynamoStore, SecretsManagerStore), (DynamoStore, SecretsManagerStore)) {
    let table = format!("xor-lever-iam-{:016x}", fastrand::u64(..));
    let prefix = format!("xor-lever-iam-{:08x}/", fastrand::u32(..));
    let admin = stores_as(Principal::Admin, &table, &prefix).await;
    admin.0.create_table().await.expect("create table in moto (IAM)");
    (admin, stores_as(principal, &table, &prefix).await)
}

/// The table and the secret prefix on the IAM-enforcing moto, opened as `principal`.
pub async fn stores_as(principal: Principal, table: &str, prefix: &str) -> (DynamoStore, SecretsManagerStore) {
    let sdk = sdk_as(principal).await;
    (
        DynamoStore::new(xor_lever_shared::config::dynamo_client(&sdk), table),
        SecretsManagerStore::new(xor_lever_shared::config::secrets_client(&sdk), prefix),
    )
}

/// A fresh sync queue (unique name) on the IAM-enforcing moto, created by the admin, with its
/// dead-letter queue as the template declares them (3 receives). Returns its URL.
pub async fn enforced_sync_queue() -> String {
    sync_queue(&aws_sdk_sqs::Client::new(&sdk_as(Principal::Admin).await)).await
}

/// A fresh sync queue on the plain moto. Returns its URL.
pub async fn plain_sync_queue() -> String {
    sync_queue(&sqs_client().await).await
}

/// An SQS client for the plain moto.
pub async fn sqs_client() -> aws_sdk_sqs::Client {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "moto"))
        .load()
        .await;
    aws_sdk_sqs::Client::new(&sdk)
}

async fn sync_queue(client: &aws_sdk_sqs::Client) -> String {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let name = format!("xor-lever-sync-{:016x}", fastrand::u64(..));
    let dlq = client.create_queue().queue_name(format!("{name}-dlq")).send().await.expect("create the DLQ in moto");
    let dlq_arn = client
        .get_queue_attributes()
        .queue_url(dlq.queue_url().unwrap())
        .attribute_names(A::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()[&A::QueueArn]
        .clone();
    let redrive = serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3}).to_string();
    let q = client
        .create_queue()
        .queue_name(name)
        .attributes(A::VisibilityTimeout, "1800")
        .attributes(A::RedrivePolicy, redrive)
        .send()
        .await
        .expect("create the sync queue in moto");
    q.queue_url().unwrap().to_owned()
}

/// Every message visible in `url`, as (message id, body), received 10 at a time (SQS's most).
/// They are not deleted: received, each stays hidden for the queue's visibility timeout (the
/// sync queue's 30 minutes), which outlasts any test.
pub async fn drain(client: &aws_sdk_sqs::Client, url: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    loop {
        let got = client.receive_message().queue_url(url).max_number_of_messages(10).send().await.unwrap();
        let msgs = got.messages();
        if msgs.is_empty() {
            return out;
        }
        out.extend(msgs.iter().map(|m| (m.message_id().unwrap().to_owned(), m.body().unwrap().to_owned())));
    }
}
