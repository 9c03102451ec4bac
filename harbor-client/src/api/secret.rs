//! A secret field of an API model: redacted in `Debug`, sent and read as a plain string.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A secret in a model (robot secrets, passwords, registry and scanner credentials, a
/// webhook's auth header): `Debug` prints `[redacted]`, the value is zeroised on drop,
/// and it is (de)serialised as the plain string Harbor sends and expects.
///
/// ```
/// use harbor_client::api::Secret;
/// let s = Secret::from("Bearer hunter2");
/// assert_eq!(format!("{s:?}"), "Secret([redacted])");
/// assert_eq!(s.expose_secret(), "Bearer hunter2");
/// ```
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(SecretString::from(value.into()))
    }

    /// The secret itself; keep it out of logs.
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.expose_secret() == other.expose_secret()
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret::new(s)
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret::new(s)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.expose_secret())
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret::new)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use crate::api::models::Instance;

    /// A preheat provider's `auth_info` (its password or token) is a map of secrets: hidden in
    /// `Debug`, the same JSON on the wire both ways.
    #[test]
    fn preheat_auth_info_is_redacted_in_debug_and_unchanged_on_the_wire() {
        let json = serde_json::json!({
            "name": "dragonfly",
            "auth_mode": "BASIC",
            "auth_info": {"username": "df-user", "password": "s3cret-pw"},
        });
        let instance: Instance = serde_json::from_value(json.clone()).unwrap();
        let debug = format!("{instance:?}");
        assert!(!debug.contains("s3cret-pw"), "{debug}");
        assert!(!debug.contains("df-user"), "{debug}");
        assert!(debug.contains("password"), "the keys stay visible: {debug}");
        assert_eq!(serde_json::to_value(&instance).unwrap(), json);
        let info = instance.auth_info.as_ref().unwrap();
        assert_eq!(info["password"].expose_secret(), "s3cret-pw");

        let built = Instance {
            auth_info: Some(BTreeMap::from([("token".to_owned(), "t0ken".into())])),
            ..Instance::default()
        };
        assert!(!format!("{built:?}").contains("t0ken"));
        assert_eq!(
            serde_json::to_value(&built).unwrap(),
            serde_json::json!({"auth_info": {"token": "t0ken"}})
        );
    }
}
