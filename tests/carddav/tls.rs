//! HTTPS: the server with the self-signed certificate `kith carddav` makes,
//! spoken to by a rustls client that trusts only that certificate.

use std::sync::Arc;

use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};

use super::*;

#[test]
fn serves_https_with_the_made_certificate() {
    let home = Home::new();
    home.ok(&["add", "Ann Lee"]);
    let (paired, password) =
        kith::devices::pair(home.path(), "laptop", jiff::Timestamp::now()).unwrap();
    let tls = kith::devices::tls(home.path(), None, None).expect("a certificate");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let server = kith::carddav::Server::bind(kith::carddav::Options {
            home: home.path().to_path_buf(),
            time_zone: jiff::tz::TimeZone::UTC,
            clock: kith::ui::Clock::System,
            listen: "127.0.0.1:0".parse().unwrap(),
            team: false,
            tls: Some(tls.clone()),
        })
        .await
        .expect("binds with TLS");
        let url = server.url().to_string();
        assert!(url.starts_with("https://127.0.0.1:"), "{url}");
        let port: u16 = url
            .trim_start_matches("https://127.0.0.1:")
            .trim_end_matches('/')
            .parse()
            .unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));

        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(tls.cert_pem.as_bytes()) {
            roots.add(cert.unwrap()).unwrap();
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        let body = "<propfind xmlns=\"DAV:\"><prop><current-user-principal/></prop></propfind>";
        let request = format!(
            "PROPFIND /dav/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: {}\r\nDepth: 0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            basic(&paired.user, &password),
            body.len()
        );
        // rustls's own blocking client, on a thread of its own.
        let raw = tokio::task::spawn_blocking(move || {
            let name = ServerName::try_from("127.0.0.1").unwrap();
            let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
            let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
            tcp.set_read_timeout(Some(WAIT)).unwrap();
            tcp.set_write_timeout(Some(WAIT)).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, tcp);
            tls.write_all(request.as_bytes())
                .expect("the certificate is trusted and the handshake works");
            let mut raw = Vec::new();
            let _ = tls.read_to_end(&mut raw);
            String::from_utf8_lossy(&raw).into_owned()
        })
        .await
        .unwrap();
        assert!(raw.starts_with("HTTP/1.1 207"), "{raw}");
        assert!(raw.contains("/dav/principal/"), "{raw}");

        // Plain HTTP to the TLS port gets no HTTP answer.
        let plain = tokio::task::spawn_blocking(move || {
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            s.set_read_timeout(Some(WAIT)).unwrap();
            let _ = s.write_all(b"GET /dav/ HTTP/1.1\r\nHost: x\r\n\r\n");
            let mut out = Vec::new();
            let _ = s.read_to_end(&mut out);
            out
        })
        .await
        .unwrap();
        assert!(!plain.starts_with(b"HTTP/1.1 2"), "plain HTTP was answered");

        let _ = stop.send(());
        tokio::time::timeout(WAIT, serving)
            .await
            .expect("stops in time")
            .unwrap()
            .unwrap();
    });
}
