//! The blob store on S3, with presigned URLs so the frontend uploads lists
//! and downloads reports without passing them through the API.

use std::time::Duration;

use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::operation::head_object::HeadObjectError;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use domain::ports::{BlobStore, PortError};

pub struct S3BlobStore {
    client: Client,
    bucket: String,
}

pub(super) fn s3_error<E: std::error::Error + 'static>(
    context: &'static str,
) -> impl Fn(E) -> PortError {
    move |e| {
        PortError(format!(
            "{context}: {}",
            aws_sdk_s3::error::DisplayErrorContext(&e)
        ))
    }
}

impl S3BlobStore {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }
}

#[async_trait::async_trait]
impl BlobStore for S3BlobStore {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), PortError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(s3_error("blob put"))?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, PortError> {
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(output) => {
                let bytes = output
                    .body
                    .collect()
                    .await
                    .map_err(|e| PortError::new("blob read", e))?;
                Ok(Some(bytes.into_bytes().to_vec()))
            }
            Err(e) => match e.into_service_error() {
                GetObjectError::NoSuchKey(_) => Ok(None),
                other => Err(s3_error("blob get")(other)),
            },
        }
    }

    async fn exists(&self, key: &str) -> Result<bool, PortError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) => match e.into_service_error() {
                HeadObjectError::NotFound(_) => Ok(false),
                other => Err(s3_error("blob head")(other)),
            },
        }
    }

    async fn presigned_put(
        &self,
        key: &str,
        expires: Duration,
    ) -> Result<Option<String>, PortError> {
        let put = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("text/csv");
        let request = put
            .presigned(presigning(expires)?)
            .await
            .map_err(s3_error("presign put"))?;
        Ok(Some(request.uri().to_owned()))
    }

    async fn presigned_get(
        &self,
        key: &str,
        expires: Duration,
    ) -> Result<Option<String>, PortError> {
        let get = self.client.get_object().bucket(&self.bucket).key(key);
        let request = get
            .presigned(presigning(expires)?)
            .await
            .map_err(s3_error("presign get"))?;
        Ok(Some(request.uri().to_owned()))
    }
}

/// How long a presigned URL lasts.
fn presigning(expires: Duration) -> Result<PresigningConfig, PortError> {
    PresigningConfig::expires_in(expires).map_err(|e| PortError::new("presign", e))
}
