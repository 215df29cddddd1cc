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
