//! TLS failures are configuration errors: exit 78 at once, never retried, with a message that
//! names the problem and its fix. The simulator runs behind a TLS listener on loopback with
//! certificates made here (a private CA and leaf certificates signed by it).

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::*;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, date_time_ymd,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{
    self, RootCertStore, ServerConfig,
    pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer},
    server::WebPkiClientVerifier,
};

/// A wrongly retried failure would take this long; every failing run must end well before.
const BUDGET: &str = "20s";
const AT_ONCE: Duration = Duration::from_secs(5);
/// Connections a test listener serves at most, and how long each may last.
const MAX_CONNECTIONS: usize = 50;
const CONNECTION_TIME: Duration = Duration::from_secs(20);

struct Ca {
    issuer: Issuer<'static, KeyPair>,
    der: CertificateDer<'static>,
    pem: String,
}

fn ca() -> Ca {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name
        .push(DnType::CommonName, "canvas-sis test CA");
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let key = KeyPair::generate().unwrap();
    let cert = p.self_signed(&key).unwrap();
    Ca {
        der: cert.der().clone(),
        pem: cert.pem(),
        issuer: Issuer::new(p, key),
    }
}

/// A date as (year, month, day).
type Ymd = (i32, u8, u8);

/// What a leaf certificate looks like.
struct Leaf<'a> {
    names: &'a [&'a str],
    /// (not before, not after); None: valid now.
    valid: Option<(Ymd, Ymd)>,
}

/// A certificate chain (leaf, CA) and the leaf's key.
fn leaf(ca: &Ca, l: Leaf) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
    let names: Vec<String> = l.names.iter().map(|s| s.to_string()).collect();
    let mut p = CertificateParams::new(names).unwrap();
    p.distinguished_name.push(DnType::CommonName, l.names[0]);
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    if let Some(((y0, m0, d0), (y1, m1, d1))) = l.valid {
        p.not_before = date_time_ymd(y0, m0, d0);
        p.not_after = date_time_ymd(y1, m1, d1);
    }
    let key = KeyPair::generate().unwrap();
    let cert = p.signed_by(&key, &ca.issuer).unwrap();
    (
        vec![cert.der().clone(), ca.der.clone()],
        PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
    )
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_ca: Option<&Ca>,
) -> ServerConfig {
    let b = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap();
    let b = match client_ca {
        None => b.with_no_client_auth(),
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            roots.add(ca.der.clone()).unwrap();
            let v = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                .build()
                .unwrap();
            b.with_client_cert_verifier(v)
        }
    };
    b.with_single_cert(chain, key).unwrap()
}

/// The simulator behind a TLS listener on 127.0.0.1, and a private home for the CLI.
struct TlsWorld {
    world: World,
    port: u16,
    accepted: Arc<std::sync::atomic::AtomicUsize>,
    _rt: tokio::runtime::Runtime,
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

impl TlsWorld {
    /// TLS in front of the simulator: each connection is decrypted and piped to it.
    fn terminating(cfg: ServerConfig) -> TlsWorld {
        let world = World::new(fake_canvas::Scenario::Ok);
        let sim = url::Url::parse(&world.sim.url()).unwrap();
        let sim_addr = format!("127.0.0.1:{}", sim.port().unwrap());
        let acceptor = TlsAcceptor::from(Arc::new(cfg));
        TlsWorld::serve(world, move |tcp| {
            let acceptor = acceptor.clone();
            let sim_addr = sim_addr.clone();
            async move {
                let mut tls = acceptor.accept(tcp).await?;
                let mut up = TcpStream::connect(&sim_addr).await?;
                tokio::io::copy_bidirectional(&mut tls, &mut up).await?;
                Ok(())
            }
        })
    }

    /// A listener that answers every ClientHello with a fatal handshake_failure alert.
    fn alerting() -> TlsWorld {
        let world = World::new(fake_canvas::Scenario::Ok);
        TlsWorld::serve(world, |mut tcp| async move {
            let mut hello = [0u8; 4096];
            let _ = tcp.read(&mut hello).await?;
            // TLS record: alert, TLS 1.2, length 2, fatal (2), handshake_failure (40).
            tcp.write_all(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28])
                .await?;
            tcp.shutdown().await?;
            Ok(())
        })
    }

    fn serve<F, Fut>(world: World, handle: F) -> TlsWorld
    where
        F: Fn(TcpStream) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = std::io::Result<()>> + Send + 'static,
    {
        let rt = rt();
        let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = accepted.clone();
        rt.spawn(async move {
            for _ in 0..MAX_CONNECTIONS {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let conn = handle(tcp);
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(CONNECTION_TIME, conn).await;
                });
            }
        });
        TlsWorld {
            world,
            port,
            accepted,
            _rt: rt,
        }
    }

    fn connections(&self) -> usize {
        self.accepted.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// `canvas-sis ARGS` against `https://HOST:PORT/`, timed.
    fn run(&self, host: &str, ca: Option<&Ca>, args: &[&str]) -> (std::process::Output, Duration) {
        let mut c = bare_cmd(self.world.home.path());
        c.env("CANVAS_BASE_URL", format!("https://{host}:{}/", self.port))
            .env("CANVAS_ACCESS_TOKEN", self.world.sim.token())
            .args(["--retry-budget", BUDGET]);
        if let Some(ca) = ca {
            c.arg("--ca-cert")
                .arg(self.world.file("ca.pem", ca.pem.as_bytes()));
        }
        let started = Instant::now();
        let out = c.args(args).output().unwrap();
        (out, started.elapsed())
    }
}

/// Exit 78 well under the retry budget, one connection only, and the log has no retry.
fn assert_config_error_at_once(w: &TlsWorld, out: &std::process::Output, took: Duration) {
    assert_eq!(out.status.code(), Some(78), "{}", stderr(out));
    assert!(took < AT_ONCE, "took {took:?}: retried?\n{}", stderr(out));
    assert!(
        !stderr(out).contains("retrying in"),
        "retried:\n{}",
        stderr(out)
    );
    assert_eq!(w.connections(), 1, "{}", stderr(out));
    assert_eq!(w.world.sim.requests().len(), 0, "nothing reached Canvas");
}

#[test]
fn unknown_issuer_exits_78_at_once_and_names_ca_cert() {
    let ca = ca();
    let (chain, key) = leaf(
        &ca,
        Leaf {
            names: &["localhost"],
            valid: None,
        },
    );
    let w = TlsWorld::terminating(server_config(chain, key, None));
    let (out, took) = w.run("localhost", None, &["list"]);
    assert_config_error_at_once(&w, &out, took);
    let err = stderr(&out);
    assert!(err.contains("not trusted"), "{err}");
    assert!(err.contains("unknown issuer"), "{err}");
    assert!(
        err.contains("--ca-cert") && err.contains("ca_cert"),
        "{err}"
    );
    // A submit refused so is a configuration refusal, not a run (contract, "A run").
    let zip = sample_zip();
    let (out, _) = w.run("localhost", None, &["submit", zip.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(78), "{}", stderr(&out));
    let h = bare_cmd(w.world.home.path())
        .args(["--json", "history"])
        .output()
        .unwrap();
    assert_eq!(json(&h)["runs"], serde_json::json!([]), "{}", stdout(&h));
}

#[test]
fn with_ca_cert_the_same_server_works() {
    let ca = ca();
    let (chain, key) = leaf(
        &ca,
        Leaf {
            names: &["localhost"],
            valid: None,
        },
    );
    let w = TlsWorld::terminating(server_config(chain, key, None));
    let (out, _) = w.run("localhost", Some(&ca), &["config", "check"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("ok: https://localhost:"),
        "{}",
        stdout(&out)
    );
    let (out, _) = w.run("localhost", Some(&ca), &["list"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!w.world.sim.requests().is_empty());
    // `ca_cert` in the config file, relative: beside the file, whatever the working dir
    // (cron's is /).
    let etc = w.world.home.path().join("etc");
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::write(etc.join("ca.pem"), &ca.pem).unwrap();
    std::fs::write(etc.join("c.toml"), "ca_cert = \"ca.pem\"\n").unwrap();
    let out = bare_cmd(w.world.home.path())
        .current_dir("/")
        .env("CANVAS_BASE_URL", format!("https://localhost:{}/", w.port))
        .env("CANVAS_ACCESS_TOKEN", w.world.sim.token())
        .arg("-c")
        .arg(etc.join("c.toml"))
        .arg("list")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn an_expired_certificate_exits_78_at_once_with_its_dates() {
    let ca = ca();
    let (chain, key) = leaf(
        &ca,
        Leaf {
            names: &["localhost"],
            valid: Some(((2020, 1, 1), (2021, 1, 2))),
        },
    );
    let w = TlsWorld::terminating(server_config(chain, key, None));
    let (out, took) = w.run("localhost", Some(&ca), &["list"]);
    assert_config_error_at_once(&w, &out, took);
    let err = stderr(&out);
    assert!(err.contains("expired on 2021-01-02"), "{err}");
    assert!(err.contains("it is now 20"), "{err}");
    assert!(err.contains("renewed"), "{err}");
}

#[test]
fn a_certificate_for_other_names_exits_78_at_once_naming_them() {
    let ca = ca();
    let (chain, key) = leaf(
        &ca,
        Leaf {
            names: &["canvas.example.edu", "sis.example.edu"],
            valid: None,
        },
    );
    let w = TlsWorld::terminating(server_config(chain, key, None));
    let (out, took) = w.run("localhost", Some(&ca), &["list"]);
    assert_config_error_at_once(&w, &out, took);
    let err = stderr(&out);
    assert!(
        err.contains(
            "not valid for the name localhost: it is for canvas.example.edu, sis.example.edu"
        ),
        "{err}"
    );
    assert!(err.contains("--base-url"), "{err}");
}

#[test]
fn a_server_that_wants_a_client_certificate_exits_78_at_once() {
    let ca = ca();
    let (chain, key) = leaf(
        &ca,
        Leaf {
            names: &["localhost"],
            valid: None,
        },
    );
    let w = TlsWorld::terminating(server_config(chain, key, Some(&ca)));
    let (out, took) = w.run("localhost", Some(&ca), &["list"]);
    assert_config_error_at_once(&w, &out, took);
    let err = stderr(&out);
    assert!(err.contains("refused the TLS handshake"), "{err}");
    assert!(err.contains("client certificate"), "{err}");
}

#[test]
fn a_handshake_alert_exits_78_at_once() {
    let w = TlsWorld::alerting();
    let (out, took) = w.run("localhost", None, &["list"]);
    assert_config_error_at_once(&w, &out, took);
    let err = stderr(&out);
    assert!(
        err.contains("refused the TLS handshake (alert HandshakeFailure)"),
        "{err}"
    );
}

#[test]
fn plain_http_behind_an_https_url_exits_78_at_once() {
    let w = World::new(fake_canvas::Scenario::Ok);
    let sim = url::Url::parse(&w.sim.url()).unwrap();
    let started = Instant::now();
    let out = w
        .cmd()
        .env(
            "CANVAS_BASE_URL",
            format!("https://127.0.0.1:{}/", sim.port().unwrap()),
        )
        .args(["--retry-budget", BUDGET, "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78), "{}", stderr(&out));
    assert!(started.elapsed() < AT_ONCE, "{:?}", started.elapsed());
    assert!(
        stderr(&out).contains("did not answer with TLS"),
        "{}",
        stderr(&out)
    );
}

/// A self-signed certificate as `openssl req -x509` makes it (CA:TRUE): refused even when
/// given with `--ca-cert`, so the message says what is wrong with it, not "give --ca-cert".
#[test]
fn a_ca_certificate_served_as_the_servers_own_says_so() {
    let ca = ca();
    // The CA's own certificate (CA:TRUE) as the server's, for its name.
    let mut p = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, "localhost");
    let key = KeyPair::generate().unwrap();
    let cert = p.self_signed(&key).unwrap();
    let pem = cert.pem();
    let chain = vec![cert.der().clone()];
    let key: PrivateKeyDer<'static> = PrivatePkcs8KeyDer::from(key.serialize_der()).into();
    let w = TlsWorld::terminating(server_config(chain, key, None));
    let trusted = Ca { pem, ..ca };
    let (out, took) = w.run("localhost", Some(&trusted), &["list"]);
    assert_config_error_at_once(&w, &out, took);
    let err = stderr(&out);
    assert!(err.contains("is a CA certificate (CA:TRUE)"), "{err}");
    assert!(err.contains("CA:FALSE"), "{err}");
    assert!(!err.contains("OtherError"), "{err}");
}

/// A self-signed server certificate (CA:FALSE) not given with `--ca-cert`: said in words,
/// with the fix that works.
#[test]
fn a_self_signed_certificate_names_the_fix() {
    let mut p = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    p.distinguished_name.push(DnType::CommonName, "localhost");
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().unwrap();
    let cert = p.self_signed(&key).unwrap();
    let chain = vec![cert.der().clone()];
    let pem = cert.pem();
    let key: PrivateKeyDer<'static> = PrivatePkcs8KeyDer::from(key.serialize_der()).into();
    let w = TlsWorld::terminating(server_config(chain, key, None));
    let (out, took) = w.run("localhost", None, &["list"]);
    assert_config_error_at_once(&w, &out, took);
    let err = stderr(&out);
    assert!(
        err.contains("self-signed") && err.contains("--ca-cert"),
        "{err}"
    );
    assert!(!err.contains("(BadSignature)"), "{err}");
    // Given with --ca-cert, it works.
    let own = Ca { pem, ..ca() };
    let (out, _) = w.run("localhost", Some(&own), &["list"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// A server that closes every connection during the handshake: tried briefly (as a refused
/// connection), never for the whole retry budget.
#[test]
fn a_server_that_closes_the_handshake_is_given_up_on_quickly() {
    let w = TlsWorld::serve(
        World::new(fake_canvas::Scenario::Ok),
        |mut tcp| async move {
            let mut hello = [0u8; 4096];
            let _ = tcp.read(&mut hello).await?;
            tcp.shutdown().await?;
            Ok(())
        },
    );
    let started = Instant::now();
    let mut c = bare_cmd(w.world.home.path());
    let out = c
        .env("CANVAS_BASE_URL", format!("https://localhost:{}/", w.port))
        .env("CANVAS_ACCESS_TOKEN", w.world.sim.token())
        .args(["--retry-budget", "10m", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(69), "{}", stderr(&out));
    assert!(
        started.elapsed() < Duration::from_secs(40),
        "{:?}",
        started.elapsed()
    );
    let err = stderr(&out);
    assert!(
        err.contains("closed the connection during the TLS handshake"),
        "{err}"
    );
}
