//! `manifest.json`: the SHA-256 of every evidence file, written last, so a
//! retailer can tell whether a bundle was edited after the run
//! (`crossdock certify verify DIR`); optionally `manifest.sig`, an ed25519
//! signature of the manifest's bytes, so that the retailer can also tell
//! who wrote it (`--signing-key FILE`, checked with `--public-key HEX`).

use std::path::Path;

use serde::{Deserialize, Serialize};

/// Format tag of `manifest.json`.
pub const MANIFEST_FORMAT: &str = "crossdock.manifest.v1";

/// Format tag of `manifest.sig`.
pub const SIGNATURE_FORMAT: &str = "crossdock.signature.v1";

/// `manifest.sig`: who signed `manifest.json`, and the signature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestSignature {
    /// [`SIGNATURE_FORMAT`].
    pub format: String,
    /// Always `ed25519`.
    pub algorithm: String,
    /// The verifying key, 32 bytes, hex.
    pub public_key: String,
    /// The signature of the bytes of `manifest.json`, 64 bytes, hex.
    pub signature: String,
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let text = text.trim();
    if text.len() != 2 * N || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// The signing key in `path`: 64 hex characters (a 32-byte ed25519 seed).
pub fn read_signing_key(path: &Path) -> Result<ed25519_dalek::SigningKey, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("--signing-key {}: {e}", path.display()))?;
    let seed = from_hex::<32>(&text).ok_or_else(|| {
        format!(
            "--signing-key {}: expected 64 hex characters (a 32-byte ed25519 seed)",
            path.display()
        )
    })?;
    Ok(ed25519_dalek::SigningKey::from_bytes(&seed))
}

/// The hex public key of `key`, as `--public-key` takes it.
pub fn public_key_hex(key: &ed25519_dalek::SigningKey) -> String {
    to_hex(key.verifying_key().as_bytes())
}

/// The evidence files a bundle must list, besides the manifest itself.
pub const EVIDENCE_FILES: [&str; 4] = ["certificate.json", "junit.xml", "report.html", "exchanges.jsonl"];

/// One evidence file and its hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// Relative to the manifest.
    pub path: String,
    pub bytes: u64,
    /// SHA-256 of the file's bytes, hex.
    pub sha256: String,
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`MANIFEST_FORMAT`].
    pub format: String,
    pub files: Vec<ManifestEntry>,
}

/// Why a bundle did not verify.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// A file differs from its hash, is missing, or is not listed.
    #[error("tampered: {0}")]
    Tampered(String),
    /// The manifest cannot be read or parsed.
    #[error("unreadable: {0}")]
    Unreadable(String),
}

impl VerifyError {
    /// 1 tampered, 2 unreadable.
    pub fn exit_code(&self) -> u8 {
        match self {
            VerifyError::Tampered(_) => crate::exit::CHECKS_FAILED,
            VerifyError::Unreadable(_) => crate::exit::BAD_INPUT,
        }
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(bytes))
}

/// Hashes every evidence file in `dir` and writes `manifest.json`; with
/// `key`, signs it into `manifest.sig`.
pub fn write(dir: &Path, key: Option<&ed25519_dalek::SigningKey>) -> std::io::Result<Manifest> {
    let mut files = Vec::new();
    for name in EVIDENCE_FILES {
        let bytes = std::fs::read(dir.join(name))
            .map_err(|e| std::io::Error::new(e.kind(), format!("read {}: {e}", dir.join(name).display())))?;
        files.push(ManifestEntry {
            path: name.to_owned(),
            bytes: bytes.len() as u64,
            sha256: sha256_hex(&bytes),
        });
    }
    let manifest = Manifest {
        format: MANIFEST_FORMAT.into(),
        files,
    };
    let json = serde_json::to_string_pretty(&manifest).expect("a manifest serializes") + "\n";
    std::fs::write(dir.join("manifest.json"), &json)?;
    if let Some(key) = key {
        use ed25519_dalek::Signer;
        let sig = ManifestSignature {
            format: SIGNATURE_FORMAT.into(),
            algorithm: "ed25519".into(),
            public_key: public_key_hex(key),
            signature: to_hex(&key.sign(json.as_bytes()).to_bytes()),
        };
        let text = serde_json::to_string_pretty(&sig).expect("a signature serializes");
        std::fs::write(dir.join("manifest.sig"), text + "\n")?;
    }
    Ok(manifest)
}

/// What a bundle that verified holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    pub manifest: Manifest,
    /// The hex public key whose signature of the manifest verified.
    pub signed_by: Option<String>,
}

/// Checks `manifest.sig` over `manifest` (the manifest's bytes); with
/// `expected`, that it is that key's.
fn verify_signature(
    dir: &Path,
    manifest: &[u8],
    expected: Option<&str>,
) -> Result<Option<String>, VerifyError> {
    let path = dir.join("manifest.sig");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return match expected {
                None => Ok(None),
                Some(_) => Err(VerifyError::Tampered(
                    "manifest.sig is missing: the bundle is not signed".into(),
                )),
            };
        }
        Err(e) => return Err(VerifyError::Unreadable(format!("{}: {e}", path.display()))),
    };
    let sig: ManifestSignature = serde_json::from_str(&text)
        .map_err(|e| VerifyError::Unreadable(format!("{}: {e}", path.display())))?;
    let bad = |what: &str| VerifyError::Tampered(format!("manifest.sig: {what}"));
    if let Some(want) = expected
        && !want.trim().eq_ignore_ascii_case(&sig.public_key)
    {
        return Err(bad(&format!(
            "signed by {}, not by {}",
            sig.public_key,
            want.trim()
        )));
    }
    let key = from_hex::<32>(&sig.public_key)
        .and_then(|k| ed25519_dalek::VerifyingKey::from_bytes(&k).ok())
        .ok_or_else(|| bad("the public key is not an ed25519 key"))?;
    let signature = from_hex::<64>(&sig.signature)
        .map(|s| ed25519_dalek::Signature::from_bytes(&s))
        .ok_or_else(|| bad("the signature is not 64 hex bytes"))?;
    key.verify_strict(manifest, &signature)
        .map_err(|_| bad("the signature does not match manifest.json"))?;
    Ok(Some(sig.public_key))
}

/// Checks the bundle in `dir` against its `manifest.json`: every evidence
/// file listed, present, and of the hash listed; the signature, if there
/// is one (and, with `public_key`, that there is one by that key).
pub fn verify(dir: &Path, public_key: Option<&str>) -> Result<Verified, VerifyError> {
    let path = dir.join("manifest.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| VerifyError::Unreadable(format!("{}: {e}", path.display())))?;
    let signed_by = verify_signature(dir, text.as_bytes(), public_key)?;
    let manifest: Manifest = serde_json::from_str(&text)
        .map_err(|e| VerifyError::Unreadable(format!("{}: {e}", path.display())))?;
    if manifest.format != MANIFEST_FORMAT {
        return Err(VerifyError::Unreadable(format!(
            "{}: format {:?}, expected {MANIFEST_FORMAT}",
            path.display(),
            manifest.format
        )));
    }
    for name in EVIDENCE_FILES {
        if !manifest.files.iter().any(|f| f.path == name) {
            return Err(VerifyError::Tampered(format!(
                "{name} is not listed in manifest.json"
            )));
        }
    }
    for entry in &manifest.files {
        if entry.path.contains("..") || Path::new(&entry.path).is_absolute() {
            return Err(VerifyError::Tampered(format!(
                "manifest.json lists {:?}, outside the bundle",
                entry.path
            )));
        }
        let bytes = std::fs::read(dir.join(&entry.path))
            .map_err(|e| VerifyError::Tampered(format!("{}: {e}", entry.path)))?;
        let actual = sha256_hex(&bytes);
        if actual != entry.sha256 {
            return Err(VerifyError::Tampered(format!(
                "{} has sha256 {actual}, the manifest says {}",
                entry.path, entry.sha256
            )));
        }
    }
    Ok(Verified { manifest, signed_by })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edited_missing_or_unlisted_file_is_tampering() {
        let dir = tempfile::tempdir().unwrap();
        for name in EVIDENCE_FILES {
            std::fs::write(dir.path().join(name), format!("{name} text")).unwrap();
        }
        assert!(matches!(
            verify(dir.path(), None),
            Err(VerifyError::Unreadable(_))
        ));
        write(dir.path(), None).unwrap();
        assert_eq!(
            verify(dir.path(), None).unwrap().manifest.files.len(),
            EVIDENCE_FILES.len()
        );

        std::fs::write(dir.path().join("junit.xml"), "edited").unwrap();
        let e = verify(dir.path(), None).unwrap_err();
        assert!(
            matches!(&e, VerifyError::Tampered(m) if m.starts_with("junit.xml")),
            "{e}"
        );
        assert_eq!(e.exit_code(), 1);

        write(dir.path(), None).unwrap();
        std::fs::remove_file(dir.path().join("report.html")).unwrap();
        assert!(
            verify(dir.path(), None)
                .unwrap_err()
                .to_string()
                .contains("report.html")
        );

        std::fs::write(dir.path().join("manifest.json"), "{not json").unwrap();
        assert_eq!(verify(dir.path(), None).unwrap_err().exit_code(), 2);
    }

    #[test]
    fn a_signed_manifest_verifies_only_unedited_and_by_its_key() {
        let dir = tempfile::tempdir().unwrap();
        for name in EVIDENCE_FILES {
            std::fs::write(dir.path().join(name), format!("{name} text")).unwrap();
        }
        let key_file = dir.path().join("key.hex");
        std::fs::write(&key_file, format!("{}\n", "07".repeat(32))).unwrap();
        let key = read_signing_key(&key_file).unwrap();
        let public = public_key_hex(&key);
        // Unsigned: verifies without a key, not with one.
        write(dir.path(), None).unwrap();
        assert_eq!(verify(dir.path(), None).unwrap().signed_by, None);
        let e = verify(dir.path(), Some(&public)).unwrap_err();
        assert!(e.to_string().contains("not signed"), "{e}");

        write(dir.path(), Some(&key)).unwrap();
        let v = verify(dir.path(), Some(&public)).unwrap();
        assert_eq!(v.signed_by.as_deref(), Some(public.as_str()));
        let other = public_key_hex(&ed25519_dalek::SigningKey::from_bytes(&[9; 32]));
        let e = verify(dir.path(), Some(&other)).unwrap_err();
        assert!(e.to_string().contains("signed by"), "{e}");
        // A manifest rewritten to match edited files no longer matches its signature.
        std::fs::write(dir.path().join("junit.xml"), "edited").unwrap();
        let signature = std::fs::read(dir.path().join("manifest.sig")).unwrap();
        write(dir.path(), None).unwrap();
        std::fs::write(dir.path().join("manifest.sig"), signature).unwrap();
        let e = verify(dir.path(), None).unwrap_err();
        assert!(e.to_string().contains("does not match manifest.json"), "{e}");
        assert_eq!(e.exit_code(), 1);

        std::fs::write(&key_file, "not hex").unwrap();
        assert!(
            read_signing_key(&key_file)
                .unwrap_err()
                .contains("64 hex characters")
        );
    }
}
