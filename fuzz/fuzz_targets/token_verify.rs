#![no_main]
//! Arbitrary input to token verification, claim signing and token
//! stripping: nothing may panic, and stripping must leave no token behind.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::LazyLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use rilla_token::{
    KeySet, Signer, Verifier, VerifierOptions, ViewerClaims, find_token, strip_token,
};

const NOW: u64 = 1_800_000_000;
const CLIENT: Option<IpAddr> = Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7)));

struct Keys {
    signer: Signer,
    verifier: Verifier,
}

static KEYS: LazyLock<Keys> = LazyLock::new(|| {
    let keys = KeySet::generate_in_memory().expect("key generation");
    Keys {
        signer: Signer::new(&keys, None).expect("signer"),
        verifier: Verifier::new(
            &keys,
            VerifierOptions {
                cache_capacity: 64,
                ..Default::default()
            },
        ),
    }
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let keys = &*KEYS;

    // The whole input as a token, and "token\npath" split.
    let _ = keys
        .verifier
        .verify(text, "/live/ch1/seg-1.ts", CLIENT, NOW);
    let (token, path) = text
        .split_once('\n')
        .unwrap_or((text, "/live/ch1/seg-1.ts"));
    let _ = keys.verifier.verify(token, path, CLIENT, NOW);

    // Genuinely signed tokens with input-derived claims reach the checks
    // behind the signature.
    let mut fields = text.splitn(4, '\n');
    let (sub, scope, path, ipp) = (
        fields.next().unwrap_or(""),
        fields.next().unwrap_or("/"),
        fields.next().unwrap_or("/"),
        fields.next(),
    );
    let mut claims = ViewerClaims::new(sub, scope, Duration::from_secs(60), NOW);
    if let Some(ipp) = ipp {
        claims = match claims.clone().with_ip_prefix(ipp) {
            Ok(bound) => bound,
            Err(_) => claims.with_client_ip(Ipv4Addr::new(203, 0, 113, 99).into()),
        };
    }
    if let Ok(signed) = keys.signer.sign(&claims) {
        for now in [NOW, NOW + 30, NOW + 120] {
            let _ = keys.verifier.verify(&signed, path, CLIENT, now);
            let _ = keys.verifier.verify(&signed, path, None, now);
        }
    }

    // Stripping removes every occurrence of the parameter.
    for param in ["rt", "a", ""] {
        let stripped = strip_token(text, param);
        let query = stripped
            .split('#')
            .next()
            .and_then(|s| s.split_once('?'))
            .map(|(_, q)| q);
        if let Some(query) = query {
            assert!(
                find_token(query, param).is_none(),
                "{param:?} left in {stripped:?}"
            );
        }
        let _ = find_token(text, param);
    }
});
