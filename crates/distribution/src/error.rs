//! The spec's error codes (`supply-chain.md` §1.11) and the JSON body every 4xx carries:
//! `{"errors": [{"code", "message", "detail"}]}`.

use serde_json::{Value, json};

/// An error code of the distribution spec
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[expect(
    missing_docs,
    reason = "the spec's codes, named as the spec names them"
)]
pub enum Code {
    BlobUnknown,
    BlobUploadInvalid,
    BlobUploadUnknown,
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestUnknown,
    NameInvalid,
    NameUnknown,
    SizeInvalid,
    Unauthorized,
    Denied,
    Unsupported,
    TooManyRequests,
    /// Not in the spec's list: an out-of-order chunk (416), where the spec gives a status only
    RangeInvalid,
    /// A manifest over the size limit (413, spelled `SIZE_INVALID`)
    TooLarge,
    /// A tag page size that is not a number (400; distribution's own code)
    PaginationNumberInvalid,
}

impl Code {
    /// The wire spelling
    pub fn as_str(self) -> &'static str {
        match self {
            Code::BlobUnknown => "BLOB_UNKNOWN",
            Code::BlobUploadInvalid => "BLOB_UPLOAD_INVALID",
            Code::BlobUploadUnknown => "BLOB_UPLOAD_UNKNOWN",
            Code::DigestInvalid => "DIGEST_INVALID",
            Code::ManifestBlobUnknown => "MANIFEST_BLOB_UNKNOWN",
            Code::ManifestInvalid => "MANIFEST_INVALID",
            Code::ManifestUnknown => "MANIFEST_UNKNOWN",
            Code::NameInvalid => "NAME_INVALID",
            Code::NameUnknown => "NAME_UNKNOWN",
            Code::SizeInvalid => "SIZE_INVALID",
            Code::Unauthorized => "UNAUTHORIZED",
            Code::Denied => "DENIED",
            Code::Unsupported => "UNSUPPORTED",
            Code::TooManyRequests => "TOOMANYREQUESTS",
            Code::RangeInvalid => "BLOB_UPLOAD_INVALID",
            Code::TooLarge => "SIZE_INVALID",
            Code::PaginationNumberInvalid => "PAGINATION_NUMBER_INVALID",
        }
    }

    /// The HTTP status the spec (or common practice, where it is silent) gives the code
    pub fn status(self) -> u16 {
        match self {
            Code::BlobUnknown
            | Code::BlobUploadUnknown
            | Code::ManifestUnknown
            | Code::NameUnknown => 404,
            Code::Unauthorized => 401,
            Code::Denied => 403,
            Code::Unsupported => 405,
            Code::TooManyRequests => 429,
            Code::RangeInvalid => 416,
            Code::TooLarge => 413,
            Code::BlobUploadInvalid
            | Code::DigestInvalid
            | Code::ManifestBlobUnknown
            | Code::ManifestInvalid
            | Code::NameInvalid
            | Code::SizeInvalid
            | Code::PaginationNumberInvalid => 400,
        }
    }
}

/// A request the registry refuses, with the spec's code
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[error("{}: {message}", code.as_str())]
pub struct DistributionError {
    /// The code
    pub code: Code,
    /// What went wrong, for people
    pub message: String,
    /// Machine-readable detail (`null` when there is none)
    pub detail: Value,
}

impl DistributionError {
    /// An error with a message and no detail
    pub fn new(code: Code, message: impl Into<String>) -> DistributionError {
        DistributionError {
            code,
            message: message.into(),
            detail: Value::Null,
        }
    }

    /// The same error with `detail`
    pub fn with_detail(mut self, detail: Value) -> DistributionError {
        self.detail = detail;
        self
    }

    /// The HTTP status
    pub fn status(&self) -> u16 {
        self.code.status()
    }

    /// The JSON body
    pub fn body(&self) -> Value {
        let mut error = json!({"code": self.code.as_str(), "message": self.message});
        if !self.detail.is_null()
            && let Some(map) = error.as_object_mut()
        {
            map.insert("detail".into(), self.detail.clone());
        }
        json!({ "errors": [error] })
    }
}

/// Shorthand for results in this crate
pub type DistributionResult<T> = Result<T, DistributionError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_have_the_spec_shape() {
        let body = DistributionError::new(Code::ManifestUnknown, "manifest unknown")
            .with_detail(json!({"tag": "v1"}))
            .body();
        assert_eq!(
            body,
            json!({"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown", "detail": {"tag": "v1"}}]})
        );
        assert_eq!(Code::ManifestUnknown.status(), 404);
        assert_eq!(Code::DigestInvalid.status(), 400);
    }
}
