//! What a failed connection was, read from the error's types rather than its text:
//! a DNS failure (from our own resolver, which keeps getaddrinfo's code), a refused
//! connection (`io::ErrorKind::ConnectionRefused`), or a TLS failure (`rustls::Error`,
//! usually inside the `io::Error` that tokio-rustls returns).
//!
//! A certificate that does not verify, or a handshake the server refuses, is a configuration
//! problem (exit 78, never retried); DNS failures and refused connections get a few quick
//! retries (`retry.rs`); everything else is left as a plain transport failure.

use std::error::Error as StdError;
use std::ffi::{CStr, CString};
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use rustls::{AlertDescription, CertificateError};
use url::Url;

use super::error::{HttpError, TlsProblem, Unreachable};

/// The resolver both HTTP clients use: the system's (getaddrinfo, as reqwest's default), but
/// its failures keep their cause so they can be told apart without reading their text.
#[derive(Clone, Copy, Debug, Default)]
pub struct Resolver;

impl Resolver {
    pub fn shared() -> Arc<Resolver> {
        Arc::new(Resolver)
    }
}

impl Resolve for Resolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs = tokio::task::spawn_blocking(move || lookup(&host))
                .await
                .map_err(|e| Box::new(e) as Box<dyn StdError + Send + Sync>)??;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// A failed name lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsError {
    pub host: String,
    pub kind: DnsFailure,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsFailure {
    /// The name does not exist, or has no address (EAI_NONAME, EAI_NODATA).
    NoSuchHost,
    /// No DNS server answered in time (EAI_AGAIN).
    NoAnswer,
    /// Anything else getaddrinfo reported, in its words.
    Other(String),
}

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            DnsFailure::NoSuchHost => write!(f, "no such host: {}", self.host),
            DnsFailure::NoAnswer => write!(
                f,
                "cannot look up {}: no DNS server answered (temporary failure in name resolution)",
                self.host
            ),
            DnsFailure::Other(why) => write!(f, "cannot look up {}: {why}", self.host),
        }
    }
}

impl StdError for DnsError {}

/// getaddrinfo for `host` (port 0: the caller sets the port), as std's `to_socket_addrs`
/// does, but keeping the error code.
fn lookup(host: &str) -> Result<Vec<SocketAddr>, DnsError> {
    let fail = |kind| DnsError {
        host: host.to_string(),
        kind,
    };
    let c_host = CString::new(host).map_err(|_| fail(DnsFailure::NoSuchHost))?;
    // SAFETY: an all-zero addrinfo is the documented "no hints" value; we set two fields.
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_family = libc::AF_UNSPEC;
    hints.ai_socktype = libc::SOCK_STREAM;
    let mut res: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: valid C string, valid hints, and an out pointer that getaddrinfo fills.
    let rc = unsafe { libc::getaddrinfo(c_host.as_ptr(), std::ptr::null(), &hints, &mut res) };
    if rc != 0 {
        let os = std::io::Error::last_os_error();
        return Err(fail(gai_failure(rc, os)));
    }
    let mut out = Vec::new();
    let mut p = res;
    while !p.is_null() {
        // SAFETY: `p` is a node of the list getaddrinfo returned, not yet freed.
        let ai = unsafe { &*p };
        if !ai.ai_addr.is_null() {
            match ai.ai_family {
                libc::AF_INET => {
                    // SAFETY: AF_INET entries hold a sockaddr_in.
                    let sa = unsafe { &*(ai.ai_addr as *const libc::sockaddr_in) };
                    let ip = Ipv4Addr::from(u32::from_be(sa.sin_addr.s_addr));
                    out.push(SocketAddr::V4(SocketAddrV4::new(ip, 0)));
                }
                libc::AF_INET6 => {
                    // SAFETY: AF_INET6 entries hold a sockaddr_in6.
                    let sa = unsafe { &*(ai.ai_addr as *const libc::sockaddr_in6) };
                    let ip = Ipv6Addr::from(sa.sin6_addr.s6_addr);
                    out.push(SocketAddr::V6(SocketAddrV6::new(
                        ip,
                        0,
                        sa.sin6_flowinfo,
                        sa.sin6_scope_id,
                    )));
                }
                _ => {}
            }
        }
        p = ai.ai_next;
    }
    // SAFETY: `res` came from a successful getaddrinfo and is freed once.
    unsafe { libc::freeaddrinfo(res) };
    if out.is_empty() {
        return Err(fail(DnsFailure::NoSuchHost));
    }
    Ok(out)
}

fn gai_failure(rc: libc::c_int, os: std::io::Error) -> DnsFailure {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if rc == libc::EAI_NODATA {
        return DnsFailure::NoSuchHost;
    }
    match rc {
        libc::EAI_NONAME => DnsFailure::NoSuchHost,
        libc::EAI_AGAIN => DnsFailure::NoAnswer,
        libc::EAI_SYSTEM => DnsFailure::Other(os.to_string()),
        _ => {
            // SAFETY: gai_strerror returns a static C string for any code.
            let msg = unsafe { CStr::from_ptr(libc::gai_strerror(rc)) };
            DnsFailure::Other(msg.to_string_lossy().into_owned())
        }
    }
}

/// Every cause of `e`, looking inside `io::Error`s (whose `source()` skips the error they
/// wrap, which is where tokio-rustls puts the `rustls::Error`).
fn causes<'a>(
    e: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(e), |&c: &&'a (dyn StdError + 'static)| {
        match c
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => c.source(),
        }
    })
}

/// What kind of failure `e` is, from its causes' types: a TLS problem, an unreachable host,
/// or neither.
pub enum Cause {
    Tls(TlsProblem),
    Unreachable(Unreachable),
    Other,
}

/// Read the cause of a failed request. `url` names the host in the result.
pub fn cause(e: &(dyn StdError + 'static), url: &Url) -> Cause {
    for c in causes(e) {
        if let Some(p) = c.downcast_ref::<rustls::Error>().and_then(tls_problem) {
            return Cause::Tls(p);
        }
        if let Some(d) = c.downcast_ref::<DnsError>() {
            return Cause::Unreachable(match &d.kind {
                DnsFailure::NoSuchHost => Unreachable::NoSuchHost {
                    host: d.host.clone(),
                },
                DnsFailure::NoAnswer => Unreachable::DnsNoAnswer {
                    host: d.host.clone(),
                },
                DnsFailure::Other(why) => Unreachable::DnsFailed {
                    host: d.host.clone(),
                    why: why.clone(),
                },
            });
        }
        if c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
        {
            return Cause::Unreachable(Unreachable::Refused {
                addr: host_port(url),
            });
        }
        // tokio-rustls's words for a peer that closed the connection mid-handshake.
        if c.downcast_ref::<std::io::Error>().is_some_and(|io| {
            io.kind() == std::io::ErrorKind::UnexpectedEof && io.to_string().contains("handshake")
        }) {
            return Cause::Unreachable(Unreachable::HandshakeClosed {
                addr: host_port(url),
            });
        }
    }
    Cause::Other
}

/// `host:port` of a URL, for messages.
pub fn host_port(url: &Url) -> String {
    let host = url.host_str().unwrap_or("?");
    match url.port_or_known_default() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    }
}

/// The TLS failures that are the configuration's to fix (None: a TLS error that may pass,
/// such as a record that failed to decrypt on a bad link).
fn tls_problem(e: &rustls::Error) -> Option<TlsProblem> {
    use rustls::Error as E;
    Some(match e {
        E::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer => TlsProblem::UnknownIssuer,
            CertificateError::ExpiredContext { time, not_after } => TlsProblem::Expired {
                not_after: Some(not_after.as_secs()),
                now: Some(time.as_secs()),
            },
            CertificateError::Expired => TlsProblem::Expired {
                not_after: None,
                now: None,
            },
            CertificateError::NotValidYetContext { time, not_before } => TlsProblem::NotYetValid {
                not_before: Some(not_before.as_secs()),
                now: Some(time.as_secs()),
            },
            CertificateError::NotValidYet => TlsProblem::NotYetValid {
                not_before: None,
                now: None,
            },
            CertificateError::NotValidForNameContext { presented, .. } => TlsProblem::WrongHost {
                presented: presented.iter().filter_map(|n| san_name(n)).collect(),
            },
            CertificateError::NotValidForName => TlsProblem::WrongHost {
                presented: Vec::new(),
            },
            // How webpki reports a self-signed certificate that is not trusted: it checks the
            // certificate's signature with its own key as an issuer and fails (a bad
            // signature with RSA, a key-type mismatch with ECDSA).
            CertificateError::BadSignature
            | CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
                TlsProblem::BadSignature
            }
            // webpki's reason, as rustls wraps it (`Other(OtherError(CaUsedAsEndEntity))`).
            other if format!("{other:?}").contains("CaUsedAsEndEntity") => TlsProblem::CaAsServer,
            other => TlsProblem::BadCertificate(plain(&format!("{other:?}"))),
        },
        E::NoCertificatesPresented => TlsProblem::BadCertificate("no certificate sent".into()),
        E::AlertReceived(AlertDescription::CertificateRequired) => TlsProblem::ClientCertRequired,
        // A close_notify is how a peer ends a connection normally; not a refusal.
        E::AlertReceived(AlertDescription::CloseNotify) => return None,
        E::AlertReceived(a) => TlsProblem::Refused {
            alert: format!("{a:?}"),
        },
        E::PeerIncompatible(p) => TlsProblem::Incompatible(format!("{p:?}")),
        E::InvalidMessage(m) => TlsProblem::NotTls(format!("{m:?}")),
        E::InappropriateMessage { .. } | E::InappropriateHandshakeMessage { .. } => {
            TlsProblem::NotTls(e.to_string())
        }
        _ => return None,
    })
}

/// rustls's debug name of a certificate error without its wrappers:
/// `Other(OtherError(UnsupportedSignatureAlgorithm))` → `UnsupportedSignatureAlgorithm`.
fn plain(debug: &str) -> String {
    let mut s = debug;
    for wrapper in ["Other(", "OtherError("] {
        if let Some(inner) = s.strip_prefix(wrapper).and_then(|r| r.strip_suffix(')')) {
            s = inner;
        }
    }
    s.to_string()
}

/// A subject alternative name as rustls-webpki lists it (`DnsName("a.example")`,
/// `IpAddress(192.0.2.1)`), as a plain name; None for other kinds of name.
fn san_name(presented: &str) -> Option<String> {
    let dns = presented
        .strip_prefix("DnsName(\"")
        .and_then(|r| r.strip_suffix("\")"));
    let ip = presented
        .strip_prefix("IpAddress(")
        .and_then(|r| r.strip_suffix(')'));
    dns.or(ip).map(str::to_string)
}

/// A failed reqwest request as an `HttpError`: a TLS problem, or a transport failure with
/// its cause when it is one that waiting rarely cures. `shown` is the (redacted) URL for
/// messages; `body_sent` whether any of the request body went out.
pub fn from_reqwest(shown: &str, url: &Url, e: reqwest::Error, body_sent: bool) -> HttpError {
    // reqwest's own message repeats the URL that `shown` already names.
    let e = e.without_url();
    // A request that cannot be built, or whose redirects loop or lead where the token may
    // not go: no retry changes that.
    if e.is_builder() || e.is_redirect() {
        return HttpError::Unsendable {
            url: shown.to_string(),
            detail: error_chain(&e),
        };
    }
    match cause(&e, url) {
        Cause::Tls(problem) => HttpError::Tls {
            url: shown.to_string(),
            host: url.host_str().unwrap_or("?").to_string(),
            problem,
            detail: error_chain(&e),
        },
        Cause::Unreachable(u) => HttpError::Transport {
            url: shown.to_string(),
            connect: true,
            timeout: false,
            body_sent: false,
            detail: error_chain(&e),
            unreachable: Some(u),
        },
        Cause::Other => HttpError::Transport {
            url: shown.to_string(),
            connect: e.is_connect(),
            timeout: e.is_timeout(),
            body_sent: body_sent && !e.is_connect(),
            detail: error_chain(&e),
            unreachable: None,
        },
    }
}

/// reqwest's error with its causes (the top level alone often says only "error sending request").
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        src = c.source();
    }
    crate::redact::redact(&s).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_that_cannot_exist_is_no_such_host() {
        // `.invalid` never resolves (RFC 6761); with no network the lookup fails at once.
        let e = lookup("nonexistent.invalid").unwrap_err();
        assert!(
            matches!(e.kind, DnsFailure::NoSuchHost | DnsFailure::NoAnswer),
            "{e:?}"
        );
        assert!(e.to_string().contains("nonexistent.invalid"), "{e}");
    }

    #[test]
    fn loopback_resolves() {
        let addrs = lookup("localhost").unwrap();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");
        assert!(lookup("127.0.0.1").unwrap()[0].ip().is_loopback());
    }

    #[test]
    fn certificate_names_as_webpki_lists_them() {
        assert_eq!(
            san_name("DnsName(\"canvas.example.edu\")").as_deref(),
            Some("canvas.example.edu")
        );
        assert_eq!(
            san_name("IpAddress(192.0.2.1)").as_deref(),
            Some("192.0.2.1")
        );
        assert_eq!(san_name("DirectoryName"), None);
    }

    #[test]
    fn tls_causes_are_found_inside_io_errors() {
        let url = Url::parse("https://canvas.example.edu/").unwrap();
        let rustls_err = rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, rustls_err);
        assert!(matches!(
            cause(&io, &url),
            Cause::Tls(TlsProblem::UnknownIssuer)
        ));
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        match cause(&refused, &url) {
            Cause::Unreachable(Unreachable::Refused { addr }) => {
                assert_eq!(addr, "canvas.example.edu:443")
            }
            _ => panic!("refused not recognised"),
        }
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert!(matches!(cause(&reset, &url), Cause::Other));
        let eof = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "tls handshake eof");
        assert!(matches!(
            cause(&eof, &url),
            Cause::Unreachable(Unreachable::HandshakeClosed { .. })
        ));
        assert_eq!(
            plain("Other(OtherError(UnsupportedSignatureAlgorithm))"),
            "UnsupportedSignatureAlgorithm"
        );
        let decrypt =
            std::io::Error::new(std::io::ErrorKind::InvalidData, rustls::Error::DecryptError);
        assert!(matches!(cause(&decrypt, &url), Cause::Other));
    }
}
