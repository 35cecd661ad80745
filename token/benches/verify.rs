//! Cost of signing and of verifying with and without the verified-token cache.

#![allow(clippy::unwrap_used, missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use rilla_token::{KeySet, Signer, Verifier, VerifierOptions, ViewerClaims, unix_now};

fn benches(c: &mut Criterion) {
    let keys = KeySet::generate_in_memory().unwrap();
    let signer = Signer::new(&keys, None).unwrap();
    let now = unix_now();
    let claims = ViewerClaims::new("viewer-42", "/live/ch1/", Duration::from_secs(3600), now)
        .with_session("session-0001");
    let token = signer.sign(&claims).unwrap();
    let path = "/live/ch1/720p/seg-00042.ts";

    let uncached = Verifier::new(
        &keys,
        VerifierOptions {
            cache_capacity: 0,
            ..Default::default()
        },
    );
    let cached = Verifier::new(&keys, VerifierOptions::default());
    assert!(cached.verify(&token, path, None, now).is_ok());

    let mut group = c.benchmark_group("verify");
    group.bench_function("ed25519_uncached", |b| {
        b.iter(|| {
            uncached
                .verify(black_box(&token), black_box(path), None, now)
                .unwrap()
        });
    });
    group.bench_function("cached", |b| {
        b.iter(|| {
            cached
                .verify(black_box(&token), black_box(path), None, now)
                .unwrap()
        });
    });
    group.finish();

    c.bench_function("sign", |b| {
        b.iter(|| signer.sign(black_box(&claims)).unwrap())
    });
}

criterion_group!(verify, benches);
criterion_main!(verify);
