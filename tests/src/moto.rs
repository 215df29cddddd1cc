//! moto's server stands in for DynamoDB and Secrets Manager. The test script
//! (`infra/scripts/test`) starts it and exports `AWS_ENDPOINT_URL`; the real AWS SDK talks to it.
use xor_lever::adapters::dynamodb::DynamoStore;
use xor_lever::adapters::secrets_manager::SecretsManagerStore;

/// The moto endpoint, or a panic that says how to get one.
pub fn endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| {
        panic!("AWS_ENDPOINT_URL is not set: run the tests with infra/scripts/test (it starts moto), or start `moto_server -p 5000` and export AWS_ENDPOINT_URL=http://127.0.0.1:5000 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1")
    })
}

/// A fresh table (unique name) in moto, created as the template declares it.
pub async fn dynamo_store() -> DynamoStore {
    endpoint();
    let sdk = xor_lever::config::aws_sdk_config().await;
    let store =
        DynamoStore::new(xor_lever::config::dynamo_client(&sdk), format!("xor-lever-test-{:016x}", fastrand::u64(..)));
    store.create_table().await.expect("create table in moto");
    store
}

/// A Secrets Manager store under a unique prefix in moto.
pub async fn secrets_store() -> SecretsManagerStore {
    endpoint();
    let sdk = xor_lever::config::aws_sdk_config().await;
    SecretsManagerStore::new(
        xor_lever::config::secrets_client(&sdk),
        format!("xor-lever-test-{:08x}/", fastrand::u32(..)),
    )
}

/// Who calls the IAM-enforcing moto (`infra/scripts/moto-iam-start`): the test's admin (setup),
/// or a function's IAM user holding exactly the actions of its policies in template.yaml.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    Admin,
    FeedSync,
    Webhook,
}

impl Principal {
    fn var_prefix(self) -> &'static str {
        match self {
            Self::Admin => "IAM_ADMIN",
            Self::FeedSync => "IAM_FEED_SYNC",
            Self::Webhook => "IAM_WEBHOOK",
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
        DynamoStore::new(xor_lever::config::dynamo_client(&sdk), table),
        SecretsManagerStore::new(xor_lever::config::secrets_client(&sdk), prefix),
    )
}
