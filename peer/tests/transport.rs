//! A peer's listener and the HTTP transport against it: only holders of a token of the
//! same swarm are served, what is not held is 404, the upload cap answers 503, and a
//! corrupting peer's bytes differ from the original.

// Helpers here panic on failure: that is how a test reports it.
#![allow(clippy::unwrap_used)]

use std::{
    sync::{Arc, Mutex, atomic::AtomicU64},
    time::Duration,
};

use bytes::Bytes;
use rilla_peer::{
    HttpTransport, PeerTransport,
    transport::{PeerFetchError, PeerServer, ServeState, Store},
};
use rilla_token::{KeySet, Signer, Verifier, VerifierOptions, ViewerClaims, unix_now};
use tokio::net::TcpListener;

const SWARM: &str = "42396ce1f04905a7";
const PLAYLIST: &str = "/live/ch1/v360/index.m3u8";

async fn server(keys: &KeySet, uploads: usize, corrupt: bool) -> (PeerServer, Arc<Store>) {
    let store = Arc::new(Store::default());
    store.insert(7, Bytes::from_static(b"segment seven, whole and true"));
    let state = Arc::new(ServeState {
        store: store.clone(),
        swarm: Mutex::new((SWARM.into(), PLAYLIST.into())),
        verifier: Verifier::new(
            &KeySet::from_jwks(&keys.jwks_json()).unwrap(),
            VerifierOptions {
                audience: rilla_token::DEFAULT_AUDIENCE.into(),
                leeway: Duration::from_secs(5),
                cache_capacity: 16,
            },
        ),
        uploads: tokio::sync::Semaphore::new(uploads),
        uploaded: AtomicU64::new(0),
        served: AtomicU64::new(0),
        corrupt,
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    (PeerServer::start(listener, state).unwrap(), store)
}

fn token(keys: &KeySet, scope: &str) -> String {
    Signer::new(keys, None)
        .unwrap()
        .sign(&ViewerClaims::new(
            "viewer-b",
            scope,
            Duration::from_secs(60),
            unix_now(),
        ))
        .unwrap()
}

#[tokio::test]
async fn serves_holders_of_a_token_of_the_same_swarm_only() {
    let keys = KeySet::generate_in_memory().unwrap();
    let (srv, store) = server(&keys, 4, false).await;
    let t = HttpTransport::new();
    let wait = Duration::from_secs(5);
    let good = token(&keys, "/live/ch1/v360/");
    let got = t.fetch(srv.addr, SWARM, 7, &good, wait).await.unwrap();
    assert_eq!(&got[..], b"segment seven, whole and true");
    assert_eq!(
        t.fetch(srv.addr, SWARM, 8, &good, wait).await,
        Err(PeerFetchError::NotHeld)
    );
    assert_eq!(
        t.fetch(srv.addr, "another-swarm", 7, &good, wait).await,
        Err(PeerFetchError::NotHeld)
    );
    // A token for another stream, one from other keys, and garbage are refused.
    let foreign = token(&keys, "/live/ch2/");
    let other_keys = KeySet::generate_in_memory().unwrap();
    for bad in [
        foreign,
        token(&other_keys, "/live/ch1/v360/"),
        "junk".into(),
    ] {
        assert_eq!(
            t.fetch(srv.addr, SWARM, 7, &bad, wait).await,
            Err(PeerFetchError::Refused(403))
        );
    }
    // Evicted segments are gone.
    assert_eq!(store.evict_below(8), vec![7]);
    assert_eq!(
        t.fetch(srv.addr, SWARM, 7, &good, wait).await,
        Err(PeerFetchError::NotHeld)
    );
}

#[tokio::test]
async fn an_exhausted_upload_cap_answers_busy_and_a_liar_corrupts() {
    let keys = KeySet::generate_in_memory().unwrap();
    let good = token(&keys, "/live/ch1/v360/");
    let (busy, _) = server(&keys, 0, false).await;
    let t = HttpTransport::new();
    let wait = Duration::from_secs(5);
    assert_eq!(
        t.fetch(busy.addr, SWARM, 7, &good, wait).await,
        Err(PeerFetchError::Busy)
    );
    let (liar, _) = server(&keys, 4, true).await;
    let got = t.fetch(liar.addr, SWARM, 7, &good, wait).await.unwrap();
    assert_eq!(got.len(), b"segment seven, whole and true".len());
    assert_ne!(&got[..], b"segment seven, whole and true");
    // A stopped peer is unreachable at once.
    let addr = liar.addr;
    drop(liar);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(matches!(
        t.fetch(addr, SWARM, 7, &good, wait).await,
        Err(PeerFetchError::Unreachable(_))
    ));
}
